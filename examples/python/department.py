#!/usr/bin/env python3
"""A department system talking to govshare over NATS, with the official client (nats-py).

The requester, the Guangdong Health Commission (``gd-weijian``), asks the Public Security
Department (``gd-gongan``) for its household register (catalog entry ``A01-02/000001``):

  1. it connects with its own nkey seed and inbox prefix, and catches up on its notices;
  2. it reads the entry from the catalog;
  3. it sends a form with mistakes, and prints every problem of the refusal;
  4. it submits the request (idempotency key, language header), and sends it again as a
     retry would: the same request comes back, nothing is submitted twice;
  5. the provider asks for a supplement (Art. 21);          [provider part, see below]
  6. the requester hears the notice and supplements;
  7. the provider approves fewer items, with the reason;    [provider part]
  8. the requester hears the approval and reads the request;
  9. it acknowledges its notices: marks their inbox notifications read.

The provider is another organisation with its own system. To keep the example in one file,
a small ``Provider`` part plays it with the provider's own seed: two connections, two
identities, exactly as two separate systems would be. A real department system is only the
``Department`` part.

Exit status: 0 when every step went as expected; 1 when a step failed (refused, no answer,
a notice that never came: every wait has a timeout); 2 for a usage or setup error (a missing
seed file, the bus refusing the credentials).

The integration guide walks through this file: docs/integration-guide.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any, Callable, Optional

import nats
from nats.errors import NoRespondersError, TimeoutError as NatsTimeoutError

# --------------------------------------------------------------------------------------------
# The wire: subjects, headers, answers (docs/integration-guide.md, "Calls and answers").
# --------------------------------------------------------------------------------------------

PREFIX = "govshare"
LANG_HEADER = "Accept-Language"
IDEMPOTENCY_HEADER = "Govshare-Idempotency-Key"
CORRELATION_HEADER = "Govshare-Correlation-Id"
CALL_VERSION = 1
BEIJING = dt.timezone(dt.timedelta(hours=8))


def command_subject(service: str, org: str, name: str) -> str:
    return f"{PREFIX}.cmd.{service}.{org}.{name}"


def query_subject(service: str, org: str, name: str) -> str:
    return f"{PREFIX}.qry.{service}.{org}.{name}"


def notice_subject(org: str) -> str:
    return f"{PREFIX}.evt.notify.org.{org}"


def inbox_prefix(org: str) -> str:
    # The bus lets an organisation subscribe to its own inbox only (_INBOX.<org>.>), and the
    # services answer only there: without this prefix every call is answered nowhere.
    return f"_INBOX.{org}"


class StepFailed(Exception):
    """A step did not go as expected: exit 1 with this message."""


class SetupError(Exception):
    """The example cannot start (seed file, credentials): exit 2 with this message."""


class Refused(StepFailed):
    """govshare answered ``{"ok": false, "error": {code, message, problems}}``: nothing changed."""

    def __init__(self, subject: str, error: dict[str, Any]):
        self.subject = subject
        self.code: str = error.get("code", "?")
        self.message: str = error.get("message", "")
        self.problems: list[dict[str, str]] = error.get("problems") or []
        super().__init__(f"{subject} was refused: {self.render()}")

    def render(self) -> str:
        lines = [f"{self.code}: {self.message}"]
        for p in self.problems:
            lines.append(f"  - {p.get('field') or '(payload)'} ({p.get('code')}): {p.get('message')}")
        return "\n".join(lines)


class NoAnswer(StepFailed):
    """No answer in time (or an unreadable one). A command may or may not have taken effect:
    send it again with the same idempotency key."""


# The code after which the same call may simply be sent again (docs/integration-guide.md,
# "Retries"): `unavailable` (a dependency failed, nothing changed). `conflict` (the record
# changed meanwhile) is not sent again blindly: read the record again and decide.
RETRYABLE = {"unavailable"}


class Govshare:
    """One NATS connection acting for one organisation: its seed, its inbox prefix."""

    def __init__(self, nc: nats.aio.client.Client, org: str, lang: str, call_timeout: float):
        self.nc = nc
        self.org = org
        self.lang = lang
        self.call_timeout = call_timeout

    @classmethod
    async def connect(cls, url: str, org: str, seed: Path, lang: str, call_timeout: float) -> "Govshare":
        if not seed.is_file():
            raise SetupError(
                f"no seed file {seed}: the operators issue it with `govshare bus credentials --for {org}`"
            )
        bus_errors: list[str] = []

        async def error_cb(e: Exception) -> None:
            # Permission violations arrive here (a subject not the organisation's own): the
            # call itself would only time out, so say why.
            bus_errors.append(str(e))
            print(f"      ! the bus says ({org}): {e}", file=sys.stderr)

        try:
            nc = await nats.connect(
                servers=[url],
                name=f"govshare-example-{org}",
                nkeys_seed=str(seed),  # the file `govshare bus credentials` writes: the seed, one line
                inbox_prefix=inbox_prefix(org),
                connect_timeout=5,
                max_reconnect_attempts=5,
                reconnect_time_wait=1,
                allow_reconnect=True,
                error_cb=error_cb,
            )
        except Exception as e:  # nats-py raises several types here; all mean "not connected"
            detail = "; ".join(bus_errors) or repr(e)
            raise SetupError(f"cannot connect to {url} as {org} with {seed}: {detail}") from e
        return cls(nc, org, lang, call_timeout)

    async def command(self, service: str, name: str, body: dict[str, Any], *, key: Optional[str] = None) -> Any:
        """A command. With `key` (an idempotency key) it is retried on no answer as well:
        however often it arrives, it takes effect once and every copy gets the first answer."""
        return await self._call(command_subject(service, self.org, name), body, key=key, resend_on_timeout=key is not None)

    async def query(self, service: str, name: str, body: dict[str, Any]) -> Any:
        """A query: it changes nothing, so it is always safe to ask again."""
        return await self._call(query_subject(service, self.org, name), body, key=None, resend_on_timeout=True)

    async def _call(self, subject: str, body: dict[str, Any], *, key: Optional[str], resend_on_timeout: bool) -> Any:
        payload = json.dumps({"version": CALL_VERSION, **body}, ensure_ascii=False).encode()
        headers = {LANG_HEADER: self.lang, CORRELATION_HEADER: str(uuid.uuid4())}
        if key is not None:
            headers[IDEMPOTENCY_HEADER] = key
        attempts, last = 4, ""
        for attempt in range(1, attempts + 1):
            try:
                msg = await self.nc.request(subject, payload, timeout=self.call_timeout, headers=headers)
            except NoRespondersError:
                # No service instance is subscribed yet (starting, restarting): nothing was done.
                last = "no responders"
                await asyncio.sleep(0.5 * attempt)
                continue
            except NatsTimeoutError:
                last = f"no answer within {self.call_timeout:g} s"
                if not resend_on_timeout:
                    break
                continue
            try:
                answer = json.loads(msg.data)
            except ValueError as e:
                raise NoAnswer(f"{subject}: unreadable answer ({e}): {msg.data[:200]!r}") from e
            if answer.get("ok") is True:
                return answer.get("result")
            error = answer.get("error") or {}
            if error.get("code") in RETRYABLE and attempt < attempts:
                last = f"{error.get('code')}: {error.get('message')}"
                await asyncio.sleep(0.5 * attempt)
                continue
            raise Refused(subject, error)
        raise NoAnswer(f"{subject}: {last} (after {attempt} attempt(s))")

    async def close(self) -> None:
        await self.nc.drain()


# --------------------------------------------------------------------------------------------
# Notices: the organisation's own subject is the doorbell, `list_notices` the record.
# --------------------------------------------------------------------------------------------


class Notices:
    """The organisation's notices, each handled once, in order.

    Live notices arrive on ``govshare.evt.notify.org.<org>`` (core NATS: a system that was
    away misses them). ``list_notices {after}`` answers every notice after a cursor (the
    stream sequence of the last one read). So: every live message (or a timer) only says
    "look", and the notices themselves are always read from the cursor. The cursor moves
    (and is kept, in `cursor_file`) only after a notice was handled: after a crash the last
    one is read again, never skipped.
    """

    def __init__(self, gs: Govshare, cursor_file: Optional[Path]):
        self.gs = gs
        self.cursor_file = cursor_file
        self.cursor = 0  # the last notice handled
        if cursor_file and cursor_file.is_file():
            self.cursor = int(cursor_file.read_text().strip() or 0)
        self.read_to = self.cursor  # the last notice fetched
        self.pending: list[dict[str, Any]] = []  # fetched, not yet handled: {seq, event}
        self.bell = asyncio.Event()
        self.handled: list[dict[str, Any]] = []

    async def start(self) -> None:
        async def ring(_msg: Any) -> None:
            self.bell.set()

        await self.gs.nc.subscribe(notice_subject(self.gs.org), cb=ring)
        await self.gs.nc.flush()

    async def fetch(self) -> None:
        """Reads every notice after the last one fetched, a page at a time, into `pending`."""
        while True:
            page = await self.gs.query("notify", "list_notices", {"after": self.read_to, "limit": 100})
            rows = page.get("notices") or []
            if not rows:
                return
            self.pending.extend(rows)
            self.read_to = page["next_after"]

    def done(self, row: dict[str, Any]) -> None:
        """`row` was handled: move the cursor past it, and keep it."""
        self.handled.append(row)
        self.cursor = row["seq"]
        if self.cursor_file:
            self.cursor_file.write_text(f"{self.cursor}\n")

    async def catch_up(self) -> list[dict[str, Any]]:
        """Handles (here: prints) every notice not handled yet."""
        await self.fetch()
        rows, self.pending = self.pending, []
        for row in rows:
            print_notice(row, self.gs.lang)
            self.done(row)
        return rows

    async def wait_for(self, what: str, match: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
        """Handles notices in order until one matches (its CloudEvents envelope); fails after
        `timeout`. Notices after the match stay pending for the next wait."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self.bell.clear()
            if not self.pending:
                await self.fetch()
            while self.pending:
                row = self.pending.pop(0)
                event = row.get("event") or {}
                print_notice(row, self.gs.lang)
                self.done(row)
                if match(event):
                    return event
            left = deadline - loop.time()
            if left <= 0:
                raise StepFailed(f"no notice of {what} within {timeout:g} s")
            try:
                # Woken by a live notice, or look again every 2 s anyway.
                await asyncio.wait_for(self.bell.wait(), timeout=min(2.0, left))
            except asyncio.TimeoutError:
                pass


def about(event: dict[str, Any], about_type: str, request_id: str) -> bool:
    """Is this notice about `request_id`, caused by an event of `about_type`?"""
    data = event.get("data") or {}
    message = data.get("message") or {}
    return data.get("about_type") == about_type and message.get("request_id") == request_id


def print_notice(row: dict[str, Any], lang: str) -> None:
    event = row.get("event") or {}
    data = event.get("data") or {}
    text = data.get("text") or {}  # the notice ready to show, in both languages
    shown = text.get("en") if lang.lower().startswith("en") else text.get("zh")
    print(f"      notice #{row.get('seq')}: {data.get('about_type')}")
    for line in (shown or "").splitlines():
        print(f"        {line}")


# --------------------------------------------------------------------------------------------
# The two organisations.
# --------------------------------------------------------------------------------------------

SERVICE_REQUESTS = "requests"
APPROVED = "govshare.requests.request.approved.v1"
REFUSED = "govshare.requests.request.refused.v1"
SUPPLEMENT_REQUESTED = "govshare.requests.request.supplement_requested.v1"


class Provider:
    """Stands in for the provider's own system (another organisation, its own seed)."""

    def __init__(self, gs: Govshare, signer: str):
        self.gs = gs
        self.signer = signer  # the provider's sharing-office head signs every reply

    async def ask_supplement(self, request_id: str) -> dict[str, Any]:
        return await self.gs.command(
            SERVICE_REQUESTS,
            "ask_supplement",
            {
                "request_id": request_id,
                "signed_off_by": self.signer,
                # Everything missing goes in this one notice (一次性告知): a second is refused.
                "missing": [
                    {"field": "scope", "note": "请说明申请救助人员的范围和人数 / state whom and how many the checks cover"}
                ],
            },
            key=f"ask-supplement-{request_id}",
        )

    async def approve_fewer(self, request_id: str, items: list[str]) -> dict[str, Any]:
        return await self.gs.command(
            SERVICE_REQUESTS,
            "approve_request",
            {
                "request_id": request_id,
                "items": items,
                "narrowing_reason": "户籍登记日期非资格核验所必需（最小必要） / not needed for the check (data minimisation)",
                "signed_off_by": self.signer,
            },
            key=f"approve-{request_id}",
        )


def step(n: str, text: str) -> None:
    print(f"\n[{n}] {text}", flush=True)


def show(label: str, value: Any) -> None:
    print(f"      {label}: {json.dumps(value, ensure_ascii=False)}", flush=True)


def usage_period(days: int = 365) -> tuple[str, str]:
    """From today (Beijing time) for a year: a period already over is refused."""
    today = dt.datetime.now(BEIJING).date()
    return today.isoformat(), (today + dt.timedelta(days=days - 1)).isoformat()


async def run(args: argparse.Namespace) -> None:
    creds = Path(args.creds_dir)
    timeout = args.timeout

    step("1", f"connect as {args.org} (seed {creds / (args.org + '.nk')}, inbox prefix {inbox_prefix(args.org)})")
    dept = await Govshare.connect(args.nats_url, args.org, creds / f"{args.org}.nk", args.lang, args.call_timeout)
    prov_gs = await Govshare.connect(
        args.nats_url, args.provider_org, creds / f"{args.provider_org}.nk", args.lang, args.call_timeout
    )
    provider = Provider(prov_gs, args.provider_signer)
    try:
        notices = Notices(dept, Path(args.cursor_file) if args.cursor_file else None)
        await notices.start()
        earlier = await notices.catch_up()
        print(f"      caught up: {len(earlier)} earlier notice(s), cursor {notices.cursor}")

        step("2", f"read catalog entry {args.entry_code}")
        entry = await dept.query("catalog", "get_entry", {"code": args.entry_code})
        published = entry.get("published") or {}
        entry_id = entry["entry_id"]
        items = [i["name"] for i in published.get("items", [])]
        show("entry", {"id": entry_id, "name": published.get("name"), "provider": entry.get("provider"),
                       "share_type": published.get("share_type"), "items": items,
                       "share_methods": published.get("share_methods")})
        if entry.get("provider") != args.provider_org:
            raise StepFailed(f"entry {args.entry_code} is provided by {entry.get('provider')}, not {args.provider_org}")

        usage_from, usage_until = usage_period()
        form = {
            "entry_id": entry_id,
            "items": items,  # every item of the entry; the provider may grant fewer
            "legal_basis": "《社会救助暂行办法》第十一条",
            "scenario": "最低生活保障资格核验",
            "scope": "全省",
            "share_method": "interface",
            "usage_from": usage_from,
            "usage_until": usage_until,
            "approved_by": args.approver,  # the requester's sharing-office head (Art. 20)
        }

        step("3", "a form with two mistakes is refused, with every problem at once")
        wrong = {**form, "items": [items[0], "婚姻状况"], "approved_by": "nobody.here"}
        try:
            await dept.command(SERVICE_REQUESTS, "submit_request", wrong)
            raise StepFailed("a form with an unknown item and a wrong signer was accepted")
        except Refused as r:
            for line in r.render().splitlines():
                print(f"      {line}")
            if r.code != "validation_failed" or len(r.problems) < 2:
                raise StepFailed(f"expected validation_failed with two problems, got: {r}")

        step("4", "submit the request (idempotency key), then send it again as a retry would")
        key = f"submit-{uuid.uuid4()}"  # a real system stores it with its own record before sending
        submitted = await dept.command(SERVICE_REQUESTS, "submit_request", form, key=key)
        show("answer", submitted)
        request_id = submitted["request_id"]
        again = await dept.command(SERVICE_REQUESTS, "submit_request", form, key=key)
        if again.get("request_id") != request_id:
            raise StepFailed(f"the retry made another request: {again}")
        print(f"      the retry got the first answer: request {request_id}, submitted once")

        step("5", f"[provider {args.provider_org}] asks for a supplement, once, with everything missing")
        show("answer", await provider.ask_supplement(request_id))

        step("6", "hear the supplement notice, read what is missing, supplement the whole form")
        await notices.wait_for("the supplement request", lambda e: about(e, SUPPLEMENT_REQUESTED, request_id), timeout)
        request = await dept.query(SERVICE_REQUESTS, "get_request", {"id": request_id})
        missing = (request.get("supplement_notice") or {}).get("missing") or []
        show("status", request.get("status"))
        show("missing", missing)
        if request.get("status") != "awaiting_supplement" or not missing:
            raise StepFailed(f"expected a supplement notice on {request_id}: {request.get('status')}")
        supplemented_form = {k: v for k, v in form.items() if k != "entry_id"}
        for m in missing:
            if m.get("field") == "scope":
                supplemented_form["scope"] = "全省低保申请人约 12 万户"
        show("answer", await dept.command(
            SERVICE_REQUESTS, "supplement", {"request_id": request_id, **supplemented_form},
            key=f"supplement-{request_id}"))

        step("7", f"[provider {args.provider_org}] approves fewer items, with the reason")
        granted = [i for i in items if i != "户籍登记日期"] or items[:1]
        show("answer", await provider.approve_fewer(request_id, granted))

        step("8", "hear the reply, read the request")
        event = await notices.wait_for(
            "the reply",
            lambda e: about(e, APPROVED, request_id) or about(e, REFUSED, request_id),
            timeout,
        )
        if event["data"]["about_type"] == REFUSED:
            raise StepFailed(f"request {request_id} was refused: {event['data']['text']}")
        request = await dept.query(SERVICE_REQUESTS, "get_request", {"id": request_id})
        approved = request.get("approved") or {}
        show("status", request.get("status"))
        show("approved items", approved.get("items"))
        show("narrowing reason", approved.get("narrowing_reason"))
        if request.get("status") != "approved" or approved.get("items") != granted:
            raise StepFailed(f"expected approved with {granted}: {request.get('status')} {approved.get('items')}")

        step("9", "acknowledge: mark the inbox notifications of every notice handled as read")
        handled_events = {(r.get("event") or {}).get("data", {}).get("about_event") for r in notices.handled}
        marked = 0
        unread = await all_pages(dept, "notify", "list_inbox", {"unread_only": True}, "notifications")
        for n in unread:
            if n.get("source_event") in handled_events:
                await dept.command("notify", "mark_read", {"id": n["id"]})
                marked += 1
        left = [n for n in await all_pages(dept, "notify", "list_inbox", {"unread_only": True}, "notifications")
                if n.get("source_event") in handled_events]
        print(f"      marked {marked} notification(s) read; {len(left)} of the handled notices still unread")
        if marked == 0 or left:
            raise StepFailed(f"acknowledging failed: {marked} marked, {len(left)} left unread")
        print(f"      notice cursor now {notices.cursor} (keep it: the next run reads on from there)")

        print(f"\ndone: request {request_id} approved for {granted}", flush=True)
    finally:
        await prov_gs.close()
        await dept.close()


async def all_pages(gs: Govshare, service: str, name: str, body: dict[str, Any], rows: str) -> list[dict[str, Any]]:
    """Every row of a paged list: pass `next_after` back as `after` until it is null."""
    out: list[dict[str, Any]] = []
    after = None
    while True:
        page = await gs.query(service, name, {**body, "limit": 100, **({"after": after} if after else {})})
        out.extend(page.get(rows) or [])
        after = page.get("next_after")
        if not after:
            return out


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nats-url", default=os.environ.get("GOVSHARE_NATS__URL", "nats://127.0.0.1:4223"),
                   help="the bus (default $GOVSHARE_NATS__URL, else the port `govshare up` uses)")
    p.add_argument("--creds-dir", default=os.environ.get("GOVSHARE_CREDS_DIR", "data/bus/creds"),
                   help="where <org>.nk seed files are (default $GOVSHARE_CREDS_DIR, else data/bus/creds)")
    p.add_argument("--org", default="gd-weijian", help="the requesting department (this system)")
    p.add_argument("--approver", default="qian.qi", help="the requester's sharing-office head")
    p.add_argument("--provider-org", default="gd-gongan", help="the providing department (played here)")
    p.add_argument("--provider-signer", default="zhao.liu", help="the provider's sharing-office head")
    p.add_argument("--entry-code", default="A01-02/000001", help="the catalog entry's code")
    p.add_argument("--lang", default="en", help="Accept-Language of every call: en or zh-CN")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for each notice")
    p.add_argument("--call-timeout", type=float, default=10.0, help="seconds to wait for each answer")
    p.add_argument("--cursor-file", help="keep the notice cursor here across runs")
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        asyncio.run(asyncio.wait_for(run(args), timeout=args.timeout * 4 + args.call_timeout * 20))
    except SetupError as e:
        print(f"\nsetup error: {e}", file=sys.stderr)
        return 2
    except StepFailed as e:
        print(f"\nfailed: {e}", file=sys.stderr)
        return 1
    except asyncio.TimeoutError:
        print("\nfailed: the example did not finish in time", file=sys.stderr)
        return 1
    print("\nall steps passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

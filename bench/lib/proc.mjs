// CPU accounting from /proc (Linux): a process tree's user+system time (all threads of the process
// and of every descendant: `paddock serve --workers N` is a primary and N workers), this process's
// own time, and the whole machine's busy time.
import { readdirSync, readFileSync } from 'node:fs';

const CLK_TCK = 100; // Linux USER_HZ

// Fields of /proc/<pid>/stat after the command name: [0] is field 3 (state), [1] ppid, [11] utime, [12] stime.
function statFields(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/**
 * CPU seconds (utime + stime, all threads) used so far by `pid` and all its live descendants, or NaN if
 * `pid` is gone. A descendant that exits during a measurement takes its time with it (until reaped into
 * its parent's cutime), so measure trees whose processes live through the run (servers, their workers).
 */
export function procCpuSeconds(pid) {
  if (!pid) return Number.NaN;
  let root;
  try {
    root = statFields(pid);
  } catch {
    return Number.NaN;
  }
  const children = new Map(); // ppid -> [[pid, fields]]
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || name === String(pid)) continue;
    let f;
    try {
      f = statFields(name);
    } catch {
      continue; // exited meanwhile
    }
    const list = children.get(f[1]);
    if (list) list.push([name, f]);
    else children.set(f[1], [[name, f]]);
  }
  let ticks = 0;
  const stack = [[String(pid), root]];
  while (stack.length) {
    const [p, f] = stack.pop();
    ticks += Number(f[11]) + Number(f[12]);
    for (const c of children.get(p) ?? []) stack.push(c);
  }
  return ticks / CLK_TCK;
}

export function selfCpuSeconds() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** The machine's CPU ticks summed over all cores, from /proc/stat's first line, or undefined. */
function machineTicks() {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line
      .trim()
      .split(/\s+/)
      .slice(1, 9)
      .map(Number);
    return { user, nice, system, idle, iowait, irq, softirq, steal };
  } catch {
    return undefined;
  }
}

/** Whole-machine busy CPU seconds, summed over all cores (from /proc/stat), or NaN. */
export function machineBusySeconds() {
  const t = machineTicks();
  if (!t) return Number.NaN;
  return (t.user + t.nice + t.system + t.irq + t.softirq + t.steal) / CLK_TCK;
}

/**
 * Whole-machine steal seconds, summed over all cores (from /proc/stat), or NaN: time this virtual
 * machine was ready to run but its host ran something else. Counted in machineBusySeconds too, so in
 * a row's othCPU%; reported apart, it says how much of a slow row was the host's doing.
 */
export function machineStealSeconds() {
  const t = machineTicks();
  return t ? t.steal / CLK_TCK : Number.NaN;
}

#!/usr/bin/env python3
"""Sorts a perf profile's samples into named costs (BENCHMARKS.md, "Performance III").

    python3 scripts/profile_costs.py /tmp/profile/perf.data

Reads `perf report --no-children --sort sym` (each function's own samples) and adds each
function to the first cost whose pattern it matches; prints each cost's share of all
samples, and the share without Argon2 (registrations hash on purpose, SPEC §3).
"""
import re
import subprocess
import sys

# First match wins; kernel functions are told apart by name.
COSTS = [
    ("Argon2 (registrations)", r"argon2|blake2"),
    ("kernel: thread hand-offs (wake, switch, futex)",
     r"\[k\] .*(finish_task_switch|_raw_spin_unlock_irq|futex|schedule|try_to_wake_up"
     r"|enqueue_|dequeue_|select_task_rq|pick_next|update_curr|update_load|psi_"
     r"|ttwu|switch_mm|__switch_to|native_sched|idle|pv_)"),
    ("kernel: file writes (SQLite WAL)", r"\[k\] .*(ext4|jbd2|folio|block_|iomap|filemap"
     r"|copy_page|generic_perform_write|copy_folio|xas_|mark_buffer|__mark_inode)"),
    ("kernel: network and other syscalls", r"\[k\] "),
    ("sqlx (pool, driver thread's channels, row streams)",
     r"sqlx_core|sqlx_sqlite|sqlx_postgres|flume|TryFlattenStream|try_filter_map"
     r"|futures_util::stream"),
    ("SQLite", r"sqlite3|pager|wal[A-Z]|btree|vdbe|unix(Write|Read|Sync|Lock|Unlock|File)"
     r"|pcache"),
    ("memory (malloc, free, memmove)", r"malloc|_int_free|cfree|realloc|memmove|memcpy"
     r"|memset|unlink_chunk|malloc_consolidate"),
    ("tracing and the log line", r"tracing|fmt::|Write>::write_str|log_writer"),
    ("waiting and waking in user space (tokio, std channels, locks, timers)",
     r"tokio::runtime|tokio::sync|parking_lot|epoll_wait|clock_gettime|syscall$"
     r"|pthread_|std::thread::functions::park|mpmc::waker|lock_contended|cancellation_token"),
    ("HTTP (hyper, poem, routing, JSON)", r"hyper|poem|http::|serde|h1::|httparse"),
    ("MiniTwit's own code", r"minitwit::"),
]


def main() -> None:
    data = sys.argv[1] if len(sys.argv) > 1 else "/tmp/profile/perf.data"
    report = subprocess.run(
        ["perf", "report", "-i", data, "--no-children", "--sort", "sym", "--stdio",
         "-g", "none"],
        capture_output=True, text=True, check=True).stdout
    shares = {name: 0.0 for name, _ in COSTS}
    other = 0.0
    for line in report.splitlines():
        found = re.match(r"\s+([0-9.]+)%\s+(.*)", line)
        if not found:
            continue
        share, symbol = float(found.group(1)), found.group(2)
        for name, pattern in COSTS:
            if re.search(pattern, symbol):
                shares[name] += share
                break
        else:
            other += share
    shares["everything else"] = other
    argon2 = shares[COSTS[0][0]]
    print(f"{'cost':<72} {'share':>7} {'w/o Argon2':>10}")
    for name, share in sorted(shares.items(), key=lambda item: -item[1]):
        without = "" if name == COSTS[0][0] else f"{share / max(100 - argon2, 1e-9) * 100:9.1f}%"
        print(f"{name:<72} {share:6.1f}% {without:>10}")


if __name__ == "__main__":
    main()

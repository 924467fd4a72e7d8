/* memtree.h - the resident memory of a child's whole tree, for a memory
 * limit (PM2's max_memory_restart, systemd's MemoryMax=): its cgroup's
 * memory.current where the memory controller is enabled for it, else the
 * sum of the resident sets (/proc/<pid>/statm) of every member: its
 * cgroup's cgroup.procs, or without a cgroup the leader and its
 * descendants (/proc/<pid>/task/<tid>/children). Pages shared between
 * members (a forked worker's) count once per member there: an overestimate.
 * Owner: nothing is kept; each call reads /proc afresh. */
#ifndef TV_MEMTREE_H
#define TV_MEMTREE_H

#include <stdint.h>
#include <sys/types.h>

/* Bytes resident, or -1 when nothing could be read (the tree is gone).
 * `cg`: the tree's cgroup directory, or NULL. */
int64_t tv_memtree_bytes(const char *cg, pid_t leader);

/* "212 MiB" (or "900 KiB", "512 B") into buf. */
char *tv_fmt_bytes(uint64_t bytes, char *buf, size_t size);

#endif

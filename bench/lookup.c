/*
 * The C baseline for bench/syscall.ts: BPF_MAP_LOOKUP_ELEM in a tight loop on an array map,
 * the same syscall with the same 32-byte attr that BpfMap.get makes.
 * Usage: lookup <iterations> <rounds>; prints "ns_per_call <min over rounds>".
 */
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long bpf(int cmd, union bpf_attr *attr, unsigned size) { return syscall(__NR_bpf, cmd, attr, size); }

static double now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv) {
	long iters = argc > 1 ? atol(argv[1]) : 1000000;
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	union bpf_attr a;
	memset(&a, 0, sizeof a);
	a.map_type = BPF_MAP_TYPE_ARRAY;
	a.key_size = 4;
	a.value_size = 8;
	a.max_entries = 512;
	strcpy(a.map_name, "bench_c");
	int fd = bpf(BPF_MAP_CREATE, &a, 72);
	if (fd < 0) { perror("BPF_MAP_CREATE"); return 1; }
	uint32_t key = 0;
	uint64_t value = 0, sum = 0;
	memset(&a, 0, sizeof a);
	a.map_fd = fd;
	a.key = (uintptr_t)&key;
	a.value = (uintptr_t)&value;
	double best = 1e18;
	for (int r = 0; r < rounds; r++) {
		double t0 = now_ns();
		for (long i = 0; i < iters; i++) {
			key = i & 511;
			if (bpf(BPF_MAP_LOOKUP_ELEM, &a, 32) < 0) { perror("BPF_MAP_LOOKUP_ELEM"); return 1; }
			sum += value;
		}
		double per = (now_ns() - t0) / iters;
		if (per < best) best = per;
	}
	printf("ns_per_call %.1f\n", best);
	close(fd);
	return sum == 42 ? 2 : 0;
}

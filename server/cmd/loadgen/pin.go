package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// pinnedEnv marks a generator that already runs under taskset, so it does
// not exec itself again.
const pinnedEnv = "LOADGEN_PINNED"

// pinSelf re-executes the generator under `taskset -c cpus` (util-linux).
// Going through exec rather than sched_setaffinity on the running process
// pins every thread the runtime will ever start, and the Go runtime then
// sizes GOMAXPROCS to those CPUs. It returns only on error.
func pinSelf(cpus string, args []string) error {
	taskset, err := exec.LookPath("taskset")
	if err != nil {
		return fmt.Errorf("-client-cpus needs taskset (util-linux): %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the generator's binary: %w", err)
	}
	argv := append([]string{"taskset", "-c", cpus, self}, args...)
	env := append(os.Environ(), pinnedEnv+"=1")
	if err := syscall.Exec(taskset, argv, env); err != nil {
		return fmt.Errorf("exec taskset -c %s: %w", cpus, err)
	}
	return nil
}

// pinnedCommand prefixes a server command with `taskset -c cpus` when cpus
// is set. taskset execs the server, so the pid stays the server's and its
// /proc figures stay right.
func pinnedCommand(cpus, bin string, args []string) (string, []string, error) {
	if cpus == "" {
		return bin, args, nil
	}
	taskset, err := exec.LookPath("taskset")
	if err != nil {
		return "", nil, fmt.Errorf("-server-cpus needs taskset (util-linux): %w", err)
	}
	return taskset, append([]string{"-c", cpus, bin}, args...), nil
}

//go:build unix

package testenv

import (
	"time"

	"golang.org/x/sys/unix"
)

// CPUTime is the CPU time (user and system) this process has used: what a
// benchmark whose work runs on goroutines of its own, on a busy machine,
// can compare where its wall time cannot.
func CPUTime() time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

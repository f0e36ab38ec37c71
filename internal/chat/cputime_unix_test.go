//go:build unix

package chat_test

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user and system) this process has used: what a
// benchmark on a busy machine can compare where its wall time cannot.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

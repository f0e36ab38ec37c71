//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package safefile

import (
	"errors"
	"os"
	"syscall"
)

// lock takes flock's exclusive lock on f, waiting for it if wait is set.
//
// flock, not fcntl: fcntl locks belong to the process, so two opens in one
// process (a chat and its own udpchat trust, in tests) would not exclude
// each other, and closing any descriptor of the file would drop the lock.
func lock(f *os.File, wait bool) error {
	how := syscall.LOCK_EX
	if !wait {
		how |= syscall.LOCK_NB
	}
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

func isHeld(err error) bool { return errors.Is(err, syscall.EWOULDBLOCK) }

// syncDir commits a rename in dir to disk. It is best effort: the rename
// itself has happened, and a failure here only means a crash could undo it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

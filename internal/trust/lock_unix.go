//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package trust

import (
	"errors"
	"os"
	"syscall"
)

// lockFile waits for an exclusive flock on the file at path (made if
// missing) and returns the function that releases it.
//
// flock, not fcntl: fcntl locks belong to the process, so two Stores of
// one process (or a chat and its own udpchat trust, in tests) would not
// exclude each other. The kernel drops the lock when its holder dies, so a
// crash never leaves a stale one; and the file is never removed, as
// removing it would let a second writer lock a new file while the first
// still holds the old one.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// syncDir commits a rename in dir to disk. It is best effort: the rename
// itself has happened, and a failure here only means a crash could undo it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

package safefile

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// lock takes LockFileEx's exclusive lock on f, waiting for it if wait is
// set. The locked byte is far past anything a holder writes in the file (the
// data dir's lock holds the holder's pid), as Windows forbids others to read
// locked bytes.
func lock(f *os.File, wait bool) error {
	flags := uint32(windows.LOCKFILE_EXCLUSIVE_LOCK)
	if !wait {
		flags |= windows.LOCKFILE_FAIL_IMMEDIATELY
	}
	return windows.LockFileEx(windows.Handle(f.Fd()), flags, 0, 1, 0, &windows.Overlapped{OffsetHigh: 1})
}

func isHeld(err error) bool { return errors.Is(err, windows.ERROR_LOCK_VIOLATION) }

// syncDir does nothing: Windows has no directory fsync, and its renames
// are journaled by NTFS.
func syncDir(string) {}

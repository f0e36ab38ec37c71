package trust

import (
	"os"

	"golang.org/x/sys/windows"
)

// lockFile waits for an exclusive lock on the file at path (made if
// missing) and returns the function that releases it. See lock_unix.go.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	ol := new(windows.Overlapped)
	if err := windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, ol); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// syncDir does nothing: Windows has no directory fsync, and its renames
// are journaled by NTFS.
func syncDir(string) {}

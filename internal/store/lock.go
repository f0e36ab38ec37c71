package store

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/udpchat/udpchat/internal/safefile"
)

// dirLock is the exclusive lock on a data dir's udpchat.lock.
//
// The lock is the kernel's (flock on Unix, LockFileEx on Windows), on an
// open file: the kernel drops it when the process dies however it dies, so
// a crash never leaves a stale lock behind, and the file itself is never
// removed (removing it would let a second process lock a new file while
// the first still holds the old one). The holder writes its pid into the
// file so that the error a second process gets can name it.
type dirLock struct {
	f *os.File
}

// lockDir takes dir's lock, or returns ErrLocked.
func lockDir(dir string) (*dirLock, error) {
	path := filepath.Join(dir, LockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, dirError(dir, err)
	}
	held, err := safefile.TryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("store: locking %s: %w", path, err)
	}
	if held {
		who := "another udpchat"
		if pid := readPID(path); pid > 0 {
			who = fmt.Sprintf("another udpchat (pid %d)", pid)
		}
		f.Close()
		return nil, &userError{
			msg:  fmt.Sprintf("%s is using %s; stop it or use another --data-dir", who, dir),
			kind: ErrLocked,
		}
	}
	// Best effort: the pid only improves another process's message.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &dirLock{f: f}, nil
}

// release drops the lock by closing the file.
func (l *dirLock) release() error {
	return l.f.Close()
}

func readPID(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	return pid
}

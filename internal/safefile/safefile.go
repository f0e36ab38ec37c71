// Package safefile writes the data dir's small files so that neither a
// crash nor a second writer can damage them: a file is replaced whole or not
// at all, and writers exclude each other with the kernel's file locks, which
// die with their holder, so a crash never leaves a stale one.
package safefile

import (
	"os"
	"path/filepath"
)

// Replace writes data to path as one step: a temporary file beside it
// (mode perm), synced, then renamed over path, and the directory synced, so
// a crash leaves the old file or the new one, never half of one, and a
// Replace that returned is on disk. Readers see the old content or the new.
func Replace(path string, data []byte, perm os.FileMode) error {
	return putInPlace(path, data, perm, os.Rename)
}

// Create writes data to path only if nothing is there yet: as Replace
// does, but the temporary file is linked into place, not renamed, so if
// another writer got there first Create fails with an error matching
// fs.ErrExist and leaves that writer's file as it is. It is for a file made
// once and never replaced, such as a key: two first runs end up with one.
func Create(path string, data []byte, perm os.FileMode) error {
	return putInPlace(path, data, perm, os.Link)
}

// putInPlace writes data to a synced temporary file beside path, puts it
// at path with place (rename or link), and syncs the directory.
func putInPlace(path string, data []byte, perm os.FileMode, place func(tmp, path string) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // once placed, path keeps the file
	err = tmp.Chmod(perm)
	if err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = place(tmp.Name(), path)
	}
	if err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

// LockPath opens (making it if missing, mode 0600) the lock file at path
// and waits for the exclusive lock on it; unlock releases it. The lock file
// is never removed: removing it would let a second writer lock a new file
// while the first still holds the old one.
func LockPath(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := lock(f, true); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// TryLock takes the exclusive lock on f without waiting; held reports that
// another open file description, in this process or another, has it. The
// lock lasts until f is closed.
func TryLock(f *os.File) (held bool, err error) {
	err = lock(f, false)
	if isHeld(err) {
		return true, nil
	}
	return false, err
}

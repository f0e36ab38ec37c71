package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// privateMode is the mode of the database and of SQLite's -wal and -shm
// files beside it: the history is as private as the identity key.
const privateMode fs.FileMode = 0o600

// makePrivate makes the database at path readable by this user only,
// whatever the umask and the mode of the data dir, and returns what it
// changed, or failed to change, for the log.
//
// SQLite creates a new database with mode 0644 less the umask, whatever the
// dir's mode, so on a common umask (022) the history would be readable by
// every local user. It gives its -wal and -shm files the mode of the
// database, whatever the umask, so a 0600 database keeps them 0600. So
// makePrivate creates a missing database itself, empty and 0600 (SQLite
// takes an empty file for a new database), and takes group and other
// access away from an existing database and from -wal and -shm files left
// by an older udpchat that had no such care. It does this rather than
// refuse such a database, as identity refuses a key file others can read:
// a history others could read is not a secret that others may now hold and
// that must be replaced; its owner only needs it closed from now on.
//
// A file it may not chmod (another user's) is left as it is and reported:
// SQLite may still be able to use it, and that is not makePrivate's call.
// Windows has no such modes; there it only creates the file.
func makePrivate(path string) (notes []string, err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, privateMode)
	switch {
	case err == nil:
		if err := f.Close(); err != nil {
			return nil, err
		}
	case !errors.Is(err, fs.ErrExist):
		return nil, err
	}
	if runtime.GOOS == "windows" {
		return nil, nil
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			continue // no -wal or -shm yet; any other trouble is SQLite's to report
		}
		mode := fi.Mode().Perm()
		if mode&0o077 == 0 {
			continue
		}
		if err := os.Chmod(p, mode&^0o077); err != nil {
			notes = append(notes, fmt.Sprintf("%s has mode %04o, so other users may read your history, and it cannot be changed (%v): run chmod 600 %s",
				p, mode, err, filepath.Join(filepath.Dir(p), DBName)+"*"))
			continue
		}
		notes = append(notes, fmt.Sprintf("%s had mode %04o, so other users could read your history; made it %04o", p, mode, mode&^0o077))
	}
	return notes, nil
}

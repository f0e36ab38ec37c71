package files

import "golang.org/x/sys/unix"

// renameNoReplace renames old to new unless new exists (fs.ErrExist then):
// for a downloads dir whose file system has no hard links (FAT, some FUSE).
func renameNoReplace(old, new string) error {
	return unix.Renameat2(unix.AT_FDCWD, old, unix.AT_FDCWD, new, unix.RENAME_NOREPLACE)
}

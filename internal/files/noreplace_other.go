//go:build !linux

package files

import "errors"

// renameNoReplace is Linux's alone: elsewhere a downloads dir must allow
// hard links.
func renameNoReplace(old, new string) error { return errors.ErrUnsupported }

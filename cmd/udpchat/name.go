package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strings"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/safefile"
)

// nameFile, in the data dir, holds the display name the user last chose
// (--name, /nick), so that every udpchat on that data dir — the chat, send,
// a pipe — goes by it without being told again. Peers bind a name to a key
// the first time they see it: a send that went by the login name instead
// would give the user's key a second name on every peer.
const nameFile = "name"

// displayName is the name udpchat goes by on dataDir: --name if given
// (remembered if remember, as chat does: a one-off send --name does not
// rename the chat), else the remembered one, else the login name made
// valid, which is only the first default and is not remembered.
func (o *options) displayName(dataDir string, remember bool) (string, error) {
	if o.nameSet {
		if err := chat.ValidateName(o.name); err != nil {
			return "", usageError{err}
		}
		if remember {
			if err := saveName(dataDir, o.name); err != nil {
				return "", err
			}
		}
		return o.name, nil
	}
	if name, err := loadName(dataDir); err != nil || name != "" {
		return name, err
	}
	if u, err := user.Current(); err == nil {
		if name := chat.SanitizeName(u.Username); name != "" {
			return name, nil
		}
	}
	return "anon", nil
}

// loadName returns the name remembered in dataDir, or "" if there is none.
func loadName(dataDir string) (string, error) {
	path := filepath.Join(dataDir, nameFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading your name: %v", err)
	}
	name := strings.TrimSuffix(string(b), "\n")
	if err := chat.ValidateName(name); err != nil {
		return "", fmt.Errorf("%s: %v; give a name with --name, which replaces it", path, err)
	}
	return name, nil
}

// saveName remembers name in dataDir, replacing the file whole (see
// safefile.Replace) so that a send starting meanwhile reads the old name or
// the new, never half of one.
func saveName(dataDir, name string) error {
	if old, err := loadName(dataDir); err == nil && old == name {
		return nil
	}
	err := safefile.Replace(filepath.Join(dataDir, nameFile), []byte(name+"\n"), 0o600)
	if err != nil {
		return fmt.Errorf("remembering your name in the data dir: %v", err)
	}
	return nil
}

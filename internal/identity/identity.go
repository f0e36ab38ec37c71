// Package identity keeps this user's identity key: the long-term Noise
// static key that peers remember, in a file of its own in the data dir.
package identity

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/udpchat/udpchat/internal/keys"
)

// FileName is the key file's name in the data dir.
const FileName = "identity.key"

// Errors from Load, each wrapped in a message that names the file and says
// what to do.
var (
	ErrInsecure = errors.New("identity: key file readable by others")
	ErrCorrupt  = errors.New("identity: key file damaged")
)

// Load returns the identity key in dir, making one on first use. The file is
// created with mode 0600 and refused if others can read it: the key is what
// stops anyone else from being you.
func Load(dir string) (keys.PrivateKey, error) {
	path := filepath.Join(dir, FileName)
	key, err := read(path)
	if errors.Is(err, fs.ErrNotExist) {
		return create(path)
	}
	return key, err
}

func read(path string) (keys.PrivateKey, error) {
	var key keys.PrivateKey
	info, err := os.Stat(path)
	if err != nil {
		return key, err
	}
	if runtime.GOOS != "windows" && info.Mode().Perm()&0o077 != 0 {
		return key, fmt.Errorf("%w: %s has mode %04o, so others may read your private key: run chmod 600 %s (and, if others did read it, move it aside to get a new identity)",
			ErrInsecure, path, info.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return key, fmt.Errorf("reading your identity key: %w", err)
	}
	var stated string // the fingerprint the file's comment gives
	for line := range bytes.Lines(b) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if line[0] == '#' {
			if _, fp, ok := bytes.Cut(line, []byte(fingerprintLabel)); ok && stated == "" {
				stated = string(bytes.TrimSpace(fp))
			}
			continue
		}
		if err := key.UnmarshalText(line); err != nil || key.IsZero() {
			break
		}
		// A key that decodes may still be damaged: one changed character
		// is another valid key, another identity, that no peer knows.
		// The fingerprint written beside it when it was made tells.
		if fp := key.Public().Fingerprint(); stated != "" && stated != fp {
			return keys.PrivateKey{}, fmt.Errorf("%w: %s holds a key whose fingerprint is %s, but the file says it is %s: the file was changed. Restore it from a backup; if you have none, move it aside and udpchat will make a new identity (peers will then see a new key and must accept it)",
				ErrCorrupt, path, fp, stated)
		}
		return key, nil
	}
	return key, fmt.Errorf("%w: %s is not a udpchat identity key: move it aside and udpchat will make a new identity (peers will then see a new key and must accept it)",
		ErrCorrupt, path)
}

// fingerprintLabel precedes the key's fingerprint in the file's comment.
const fingerprintLabel = "Fingerprint "

// create makes a new key and writes it without ever leaving a partial or
// world-readable file: a temporary file (0600), synced, then linked into
// place, which fails if another process got there first — then its key is
// the one.
func create(path string) (keys.PrivateKey, error) {
	key, err := keys.GenerateKey()
	if err != nil {
		return key, fmt.Errorf("making your identity key: %w", err)
	}
	text, err := key.MarshalText()
	if err != nil {
		return key, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".identity-*")
	if err != nil {
		return key, fmt.Errorf("saving your identity key in %s: %w", filepath.Dir(path), err)
	}
	defer os.Remove(tmp.Name())
	fmt.Fprintf(tmp, "# udpchat identity key: keep it secret. %s%s\n%s\n", fingerprintLabel, key.Public().Fingerprint(), text)
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return key, fmt.Errorf("saving your identity key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return key, fmt.Errorf("saving your identity key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return read(path)
		}
		return key, fmt.Errorf("saving your identity key as %s: %w", path, err)
	}
	return key, nil
}

// Package identity keeps this user's keys, each in a file of its own in the
// data dir: the identity key, the long-term Noise static key that peers
// remember, and the room signing key, the Ed25519 key that signs what this
// user says in rooms (internal/rooms) and is bound to the identity key.
package identity

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/safefile"
)

// FileName is the identity key file's name in the data dir, SigningFileName
// the room signing key's.
const (
	FileName        = "identity.key"
	SigningFileName = "signing.key"
)

// Errors from Load and LoadSigning, each wrapped in a message that names
// the file and says what to do.
var (
	ErrInsecure = errors.New("identity: key file readable by others")
	ErrCorrupt  = errors.New("identity: key file damaged")
)

// keyFile is one kind of key file. Both hold a 32-byte secret in the text
// form of keys.PrivateKey (base64), under a comment with the fingerprint of
// its public key, which tells a damaged key from another valid one.
type keyFile struct {
	name string // in the data dir
	what string // for messages: "identity key"
	// lost says what making a new key means to the user.
	lost string
	// generate makes a new secret; fingerprint is that of its public key.
	generate    func() (keys.PrivateKey, error)
	fingerprint func(keys.PrivateKey) string
}

var (
	identityFile = keyFile{
		name:        FileName,
		what:        "identity key",
		lost:        "udpchat will make a new identity (peers will then see a new key and must accept it)",
		generate:    keys.GenerateKey,
		fingerprint: func(k keys.PrivateKey) string { return k.Public().Fingerprint() },
	}
	// The signing key's secret is an Ed25519 seed (RFC 8032), its
	// fingerprint that of the Ed25519 public key, in the same short form
	// as a Noise key's.
	signingFile = keyFile{
		name: SigningFileName,
		what: "room signing key",
		lost: "udpchat will make a new one (the founders of your rooms must then add you again, as rooms know you by the old one)",
		generate: func() (keys.PrivateKey, error) {
			var seed keys.PrivateKey
			_, err := rand.Read(seed[:])
			return seed, err
		},
		fingerprint: func(seed keys.PrivateKey) string {
			return keys.PublicKey(ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)).Fingerprint()
		},
	}
)

// Load returns the identity key in dir, making one on first use. The file is
// created with mode 0600 and refused if others can read it: the key is what
// stops anyone else from being you.
func Load(dir string) (keys.PrivateKey, error) {
	return identityFile.load(dir)
}

// LoadSigning returns the room signing key in dir, making one on first use
// (on a data dir made before rooms, too), with the same care as Load: mode
// 0600, refused if others can read it, written whole or not at all. Whoever
// has it can speak in this user's rooms.
func LoadSigning(dir string) (ed25519.PrivateKey, error) {
	seed, err := signingFile.load(dir)
	if err != nil {
		return nil, err
	}
	return ed25519.NewKeyFromSeed(seed[:]), nil
}

func (f keyFile) load(dir string) (keys.PrivateKey, error) {
	path := filepath.Join(dir, f.name)
	key, err := f.read(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f.create(path)
	}
	return key, err
}

func (f keyFile) read(path string) (keys.PrivateKey, error) {
	var key keys.PrivateKey
	info, err := os.Stat(path)
	if err != nil {
		return key, err
	}
	if runtime.GOOS != "windows" && info.Mode().Perm()&0o077 != 0 {
		return key, fmt.Errorf("%w: %s has mode %04o, so others may read your private %s: run chmod 600 %s (and, if others did read it, move it aside: %s)",
			ErrInsecure, path, info.Mode().Perm(), f.what, path, f.lost)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return key, fmt.Errorf("reading your %s: %w", f.what, err)
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
		if fp := f.fingerprint(key); stated != "" && stated != fp {
			return keys.PrivateKey{}, fmt.Errorf("%w: %s holds a key whose fingerprint is %s, but the file says it is %s: the file was changed. Restore it from a backup; if you have none, move it aside and %s",
				ErrCorrupt, path, fp, stated, f.lost)
		}
		return key, nil
	}
	return key, fmt.Errorf("%w: %s is not a udpchat %s: move it aside and %s",
		ErrCorrupt, path, f.what, f.lost)
}

// fingerprintLabel precedes the key's fingerprint in the file's comment.
const fingerprintLabel = "Fingerprint "

// create makes a new key and writes it without ever leaving a partial or
// world-readable file (safefile.Create); if another process got there
// first, its key is the one.
func (f keyFile) create(path string) (keys.PrivateKey, error) {
	key, err := f.generate()
	if err != nil {
		return key, fmt.Errorf("making your %s: %w", f.what, err)
	}
	text, err := key.MarshalText()
	if err != nil {
		return key, err
	}
	content := fmt.Appendf(nil, "# udpchat %s: keep it secret. %s%s\n%s\n", f.what, fingerprintLabel, f.fingerprint(key), text)
	if err := safefile.Create(path, content, 0o600); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return f.read(path)
		}
		return key, fmt.Errorf("saving your %s as %s: %w", f.what, path, err)
	}
	return key, nil
}

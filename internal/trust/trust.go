// Package trust remembers the identity keys of the peers this user has
// talked to — trust on first use, as SSH does — in the known_peers file in
// the data dir: the first key seen at an address, or under a display name,
// is the one expected there ever after, until the user says otherwise.
//
// The file is read afresh for every decision, so `udpchat trust` run in
// another terminal takes effect in a running chat at its next handshake.
package trust

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/udpchat/udpchat/internal/secure"
)

// FileName is the known-peers file's name in the data dir.
const FileName = "known_peers"

const header = "# udpchat known peers, one a line: ADDRESS \"NAME\" FINGERPRINT [KEY]; - for none.\n" +
	"# udpchat adds peers here the first time it meets them. To accept a peer's new key: udpchat trust PEER FINGERPRINT\n"

// Entry is what is known of one identity.
type Entry struct {
	Addr        netip.AddrPort // where it was last seen; zero if unknown
	Name        string         // the display name it uses; "" if unknown
	Fingerprint string
	Key         secure.PublicKey // zero if only the fingerprint is known (udpchat trust)
}

// Store is the known-peers file.
type Store struct {
	path string
	mu   sync.Mutex // serialises read-modify-write within this process
}

// Open returns the store for dir, checking that the file, if it exists,
// can be read.
func Open(dir string) (*Store, error) {
	s := &Store{path: filepath.Join(dir, FileName)}
	if _, err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

// Path is the file's path, for messages.
func (s *Store) Path() string { return s.path }

// KeyChangedError says a peer presented another key than the one known for
// its address or name: an impostor, or a peer with a new identity.
type KeyChangedError struct {
	Peer      string // the address or name it claimed
	Name      string // the name known for it, if any
	Known     string // fingerprint expected
	Presented string // fingerprint presented
}

func (e *KeyChangedError) Error() string {
	who := e.Peer
	if e.Name != "" && e.Name != e.Peer {
		who = fmt.Sprintf("%s (%s)", e.Peer, e.Name)
	}
	return fmt.Sprintf("WARNING: %s presented a different identity key than before: someone may be impersonating it, "+
		"or it has a new key. Known %s, presented %s. Nothing from it is shown. If you trust the new key "+
		"(ask its owner to run udpchat id and compare), run: udpchat trust %s %s",
		who, e.Known, e.Presented, quoteArg(e.Peer), e.Presented)
}

// Known returns the key last seen at addr, so a handshake can use Noise IK.
func (s *Store) Known(addr netip.AddrPort) (secure.PublicKey, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	entries, err := s.load()
	if err != nil {
		return secure.PublicKey{}, false
	}
	for _, e := range entries {
		if e.Addr == addr && !e.Key.IsZero() {
			return e.Key, true
		}
	}
	return secure.PublicKey{}, false
}

// Verify decides whether key may speak from addr: a known key may (and is
// now known at addr); a new key at an address where another is known may
// not (*KeyChangedError); a new key at a new address is remembered.
func (s *Store) Verify(addr netip.AddrPort, key secure.PublicKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	entries, err := s.load()
	if err != nil {
		return err
	}
	fp := key.Fingerprint()
	if i := slices.IndexFunc(entries, func(e Entry) bool { return e.Fingerprint == fp }); i >= 0 {
		e := &entries[i]
		if e.Key == key && (e.Addr == addr || s.addrTaken(entries, addr, fp)) {
			return nil
		}
		e.Key = key
		if !s.addrTaken(entries, addr, fp) {
			e.Addr = addr
		}
		return s.save(entries)
	}
	if i := slices.IndexFunc(entries, func(e Entry) bool { return e.Addr == addr }); i >= 0 {
		return &KeyChangedError{Peer: addr.String(), Name: entries[i].Name, Known: entries[i].Fingerprint, Presented: fp}
	}
	return s.save(append(entries, Entry{Addr: addr, Fingerprint: fp, Key: key}))
}

// addrTaken reports whether an identity other than fp is known at addr.
func (s *Store) addrTaken(entries []Entry, addr netip.AddrPort, fp string) bool {
	return slices.ContainsFunc(entries, func(e Entry) bool { return e.Addr == addr && e.Fingerprint != fp })
}

// CheckName decides whether key may use name: a name known for another key
// may not be taken (*KeyChangedError); otherwise the key is now known by it.
func (s *Store) CheckName(key secure.PublicKey, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	entries, err := s.load()
	if err != nil {
		return err
	}
	fp := key.Fingerprint()
	if i := slices.IndexFunc(entries, func(e Entry) bool { return e.Name == name && e.Fingerprint != fp }); i >= 0 {
		return &KeyChangedError{Peer: name, Known: entries[i].Fingerprint, Presented: fp}
	}
	i := slices.IndexFunc(entries, func(e Entry) bool { return e.Fingerprint == fp })
	if i < 0 {
		return s.save(append(entries, Entry{Name: name, Fingerprint: fp, Key: key}))
	}
	if entries[i].Name == name {
		return nil
	}
	entries[i].Name = name
	return s.save(entries)
}

// Trust makes fingerprint the identity expected for peer (an address or a
// display name), replacing whatever was known for it: the deliberate
// acceptance of a new key. Trusting a new key at an address hands it the
// name the old key went by there too: it is the same peer, with a new key.
func (s *Store) Trust(peer, fingerprint string) error {
	if !strings.HasPrefix(fingerprint, secure.FingerprintPrefix) {
		return fmt.Errorf("%q is not a fingerprint: they look like %sXXXX-XXXX-… (udpchat id prints yours)", fingerprint, secure.FingerprintPrefix)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	entries, err := s.load()
	if err != nil {
		return err
	}
	addr, err := netip.ParseAddrPort(peer)
	byAddr := err == nil
	// Unbind peer from every other identity, dropping entries left empty.
	var inherited string
	for i := range entries {
		if entries[i].Fingerprint == fingerprint {
			continue
		}
		if byAddr && entries[i].Addr == addr {
			entries[i].Addr = netip.AddrPort{}
			inherited, entries[i].Name = entries[i].Name, ""
		}
		if !byAddr && entries[i].Name == peer {
			entries[i].Name = ""
		}
	}
	entries = slices.DeleteFunc(entries, func(e Entry) bool { return !e.Addr.IsValid() && e.Name == "" && e.Key.IsZero() })
	i := slices.IndexFunc(entries, func(e Entry) bool { return e.Fingerprint == fingerprint })
	if i < 0 {
		entries = append(entries, Entry{Fingerprint: fingerprint})
		i = len(entries) - 1
	}
	if byAddr {
		entries[i].Addr = addr
		if inherited != "" {
			entries = unbindName(entries, inherited, fingerprint)
			entries[i].Name = inherited
		}
	} else {
		entries[i].Name = peer
	}
	return s.save(entries)
}

// unbindName takes name from every identity but fingerprint's.
func unbindName(entries []Entry, name, fingerprint string) []Entry {
	for i := range entries {
		if entries[i].Fingerprint != fingerprint && entries[i].Name == name {
			entries[i].Name = ""
		}
	}
	return entries
}

// Entries lists what is known, for udpchat trust --list.
func (s *Store) Entries() ([]Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.load()
}

func (s *Store) load() ([]Entry, error) {
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading known peers: %w", err)
	}
	var entries []Entry
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		e, err := parseEntry(line)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %v: fix or delete that line (udpchat will ask again about that peer's key)", s.path, n, err)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

func parseEntry(line string) (Entry, error) {
	var e Entry
	addr, rest, _ := strings.Cut(line, " ")
	if addr != "-" {
		a, err := netip.ParseAddrPort(addr)
		if err != nil {
			return e, fmt.Errorf("bad address %q", addr)
		}
		e.Addr = a
	}
	rest = strings.TrimLeft(rest, " ")
	quoted, err := strconv.QuotedPrefix(rest)
	if err != nil {
		return e, errors.New("the name must be in double quotes")
	}
	e.Name, _ = strconv.Unquote(quoted)
	fields := strings.Fields(rest[len(quoted):])
	if len(fields) < 1 || len(fields) > 2 || !strings.HasPrefix(fields[0], secure.FingerprintPrefix) {
		return e, errors.New("want a fingerprint, then optionally a key")
	}
	e.Fingerprint = fields[0]
	if len(fields) == 2 {
		if err := e.Key.UnmarshalText([]byte(fields[1])); err != nil {
			return e, fmt.Errorf("bad key: %v", err)
		}
		if e.Key.Fingerprint() != e.Fingerprint {
			return e, errors.New("the key does not match the fingerprint")
		}
	}
	return e, nil
}

// save replaces the file atomically (a temporary file renamed over it), so
// a crash leaves the old file or the new one, never half of one.
func (s *Store) save(entries []Entry) error {
	var b strings.Builder
	b.WriteString(header)
	for _, e := range entries {
		addr := "-"
		if e.Addr.IsValid() {
			addr = e.Addr.String()
		}
		fmt.Fprintf(&b, "%s %s %s", addr, strconv.Quote(e.Name), e.Fingerprint)
		if !e.Key.IsZero() {
			k, _ := e.Key.MarshalText()
			fmt.Fprintf(&b, " %s", k)
		}
		b.WriteByte('\n')
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".known_peers-*")
	if err != nil {
		return fmt.Errorf("saving known peers: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(b.String()); err != nil {
		tmp.Close()
		return fmt.Errorf("saving known peers: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("saving known peers: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("saving known peers: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("saving known peers: %w", err)
	}
	return nil
}

// quoteArg quotes s for a shell command line if it needs it.
func quoteArg(s string) string {
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r == '.' || r == ':' || r == '-' || r == '_' || r == '[' || r == ']' ||
			'0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z')
	}) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

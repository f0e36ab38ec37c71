// Package trust remembers the identity keys of the peers this user has
// talked to — trust on first use, as SSH does — in the known_peers file in
// the data dir. A key is remembered when its peer joins the conversation
// (Admit, at its first chat message), with the address it came from and
// the display name it uses; from then on no other key may speak from that
// address, nor use that name or any name that key went by before, until
// the user says otherwise (udpchat trust). A handshake alone leaves
// nothing behind: a flood of them must not grow the file.
//
// The file is parsed once and kept; each decision costs one stat to check
// that the file is still the one parsed, so `udpchat trust` in another
// terminal takes effect in a running chat at the peer's next handshake.
// Writers (a chat, any number of udpchat trust) take an inter-process lock,
// re-read the file under it and replace it atomically, so none loses
// another's update.
package trust

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/safefile"
)

// FileName is the known-peers file's name in the data dir.
const FileName = "known_peers"

// lockName is the file whose lock orders the writers of FileName. It is
// never removed (see safefile.LockPath).
const lockName = FileName + ".lock"

// maxAliases bounds the earlier names remembered for one key: a peer that
// renames itself a thousand times must not grow the file without end.
// Past it the oldest is forgotten, and so free for another key to take.
const maxAliases = 8

// ErrUnknownPeer is returned by Trust for a peer (address or name) bound
// to no key, unless told that it is new: a typo must not bind a name.
var ErrUnknownPeer = errors.New("unknown peer")

// unknownPeerError is an ErrUnknownPeer that says which peer, and what to
// do.
type unknownPeerError string

func (e unknownPeerError) Error() string        { return string(e) }
func (e unknownPeerError) Is(target error) bool { return target == ErrUnknownPeer }

// Entry is what is known of one identity.
type Entry struct {
	Addr netip.AddrPort // where it was last seen; zero if unknown
	Name string         // the display name it uses; "" if unknown
	// Aliases are the names it used before (oldest first), still its own:
	// after bob becomes robert, no other key may call itself bob.
	Aliases     []string
	Fingerprint string
	Key         keys.PublicKey // zero if only the fingerprint is known (udpchat trust)
}

// names is every name bound to e.
func (e *Entry) names() []string {
	if e.Name == "" {
		return slices.Clone(e.Aliases)
	}
	return append(slices.Clone(e.Aliases), e.Name)
}

// rename makes name e's current name, keeping the one it had as an alias.
func (e *Entry) rename(name string) {
	if e.Name == name {
		return
	}
	old := e.Name
	e.Aliases = slices.DeleteFunc(slices.Clone(e.Aliases), func(a string) bool { return a == name })
	e.Name = name
	if old != "" {
		e.addAlias(old)
	}
}

// addName binds name to e: as its name if it has none, else as an alias.
func (e *Entry) addName(name string) {
	switch {
	case e.Name == name || slices.Contains(e.Aliases, name):
	case e.Name == "":
		e.Name = name
	default:
		e.addAlias(name)
	}
}

func (e *Entry) addAlias(name string) {
	e.Aliases = append(slices.Clone(e.Aliases), name)
	if len(e.Aliases) > maxAliases {
		e.Aliases = e.Aliases[len(e.Aliases)-maxAliases:]
	}
}

// dropName unbinds name from e.
func (e *Entry) dropName(name string) {
	if e.Name == name {
		e.Name = ""
	}
	e.Aliases = slices.DeleteFunc(slices.Clone(e.Aliases), func(a string) bool { return a == name })
}

// KnownPeers is the known-peers file, and what was last read of it.
type KnownPeers struct {
	path     string
	lockPath string
	// writeMu lets one writer of this process at a time take the file
	// lock (which orders processes).
	writeMu sync.Mutex

	// mu guards the fields below; it is held only briefly (the secure
	// layer asks Known and Verify with its own locks held), never across
	// a write or while waiting for the file lock.
	mu sync.Mutex
	// tab is the last good reading of the file; never nil once Open
	// returns.
	tab *table
	// seen is the stat of the file tab or bad came from (nil: there was
	// no file); read is whether there has been a reading at all.
	seen os.FileInfo
	read bool
	// bad, if not nil, says the file as it is now cannot be used. Until
	// it is fixed, what the last good reading allowed is still allowed,
	// and nothing new is trusted or written.
	bad error
}

// Open returns the store for dir, checking that the file, if it exists,
// can be read.
func Open(dir string) (*KnownPeers, error) {
	s := &KnownPeers{path: filepath.Join(dir, FileName), lockPath: filepath.Join(dir, lockName)}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshLocked()
	if s.bad != nil {
		return nil, s.bad
	}
	return s, nil
}

// Path is the file's path, for messages.
func (s *KnownPeers) Path() string { return s.path }

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
func (s *KnownPeers) Known(addr netip.AddrPort) (keys.PublicKey, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshLocked()
	if i, ok := s.tab.byAddr[addr]; ok && !s.tab.entries[i].Key.IsZero() {
		return s.tab.entries[i].Key, true
	}
	return keys.PublicKey{}, false
}

// Verify decides whether key may speak from addr, as a handshake reveals
// it: a known key may, from anywhere (peers roam); a new key may, unless
// another is known at addr (*KeyChangedError). It writes nothing: a key is
// remembered only when its peer joins (Admit).
func (s *KnownPeers) Verify(addr netip.AddrPort, key keys.PublicKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshLocked()
	fp := s.tab.fingerprint(key)
	if err := s.tab.check(addr, fp, ""); err != nil {
		return err
	}
	if _, known := s.tab.byFP[fp]; !known && s.bad != nil {
		return s.bad
	}
	return nil
}

// Admit decides whether key, at addr, may join the conversation under
// name, and if so remembers it there: the key at that address, the name
// bound to the key (a name it used before stays bound to it too). A name
// or address bound to another key gets a *KeyChangedError.
func (s *KnownPeers) Admit(addr netip.AddrPort, key keys.PublicKey, name string) error {
	s.mu.Lock()
	s.refreshLocked()
	fp := s.tab.fingerprint(key)
	err := s.tab.check(addr, fp, name)
	upToDate := s.tab.upToDate(addr, key, fp, name)
	bad := s.bad
	s.mu.Unlock()
	switch {
	case err != nil:
		return err
	case upToDate:
		return nil
	case bad != nil:
		return bad
	}
	return s.update(func(t *table) ([]Entry, error) {
		if err := t.check(addr, fp, name); err != nil || t.upToDate(addr, key, fp, name) {
			return nil, err
		}
		entries := t.clone()
		i, ok := t.byFP[fp]
		if !ok {
			entries = append(entries, Entry{Fingerprint: fp})
			i = len(entries) - 1
		}
		e := &entries[i]
		e.Key = key
		if j, taken := t.byAddr[addr]; !taken || j == i {
			e.Addr = addr
		}
		e.rename(name)
		return entries, nil
	})
}

// Trust makes fingerprint the identity expected for peer (an address or a
// display name), taking it from whatever key had it: the deliberate
// acceptance of a new key. Trusting a new key at an address hands it the
// names the old key went by there too: it is the same peer, with a new key.
// A peer bound to no key yet is refused (ErrUnknownPeer: a typo must not
// bind a name), unless isNew says the user means it. Trust never takes a
// name from the key it trusts: a name given to a key that has one already
// is bound to it as well.
func (s *KnownPeers) Trust(peer, fingerprint string, isNew bool) error {
	fp, err := keys.ParseFingerprint(fingerprint)
	if err != nil {
		return fmt.Errorf("%q is %w (the peer's udpchat id prints its fingerprint)", fingerprint, err)
	}
	addr, err := netip.ParseAddrPort(peer)
	byAddr := err == nil
	return s.update(func(t *table) ([]Entry, error) {
		holder, held := t.byName[peer]
		if byAddr {
			holder, held = t.byAddr[addr]
		}
		if held && t.entries[holder].Fingerprint == fp {
			return nil, nil
		}
		if !held && !isNew {
			what := fmt.Sprintf("as %q", peer)
			if byAddr {
				what = "at " + peer
			}
			return nil, unknownPeerError(fmt.Sprintf("no peer is known %s (udpchat trust --list shows who is); to bind it to %s all the same, add --new",
				what, fp))
		}
		entries := t.clone()
		var inherited []string
		if held {
			old := &entries[holder]
			if byAddr {
				old.Addr = netip.AddrPort{}
				inherited = old.names()
				old.Name, old.Aliases = "", nil
			} else {
				old.dropName(peer)
			}
		}
		i := slices.IndexFunc(entries, func(e Entry) bool { return e.Fingerprint == fp })
		if i < 0 {
			entries = append(entries, Entry{Fingerprint: fp})
			i = len(entries) - 1
		}
		e := &entries[i]
		if byAddr {
			e.Addr = addr
			for _, n := range inherited {
				e.addName(n)
			}
		} else {
			e.addName(peer)
		}
		// A key left with no address and no name is a stranger again.
		return slices.DeleteFunc(entries, func(e Entry) bool { return !e.Addr.IsValid() && e.Name == "" && len(e.Aliases) == 0 }), nil
	})
}

// Entries lists what is known, for udpchat trust --list.
func (s *KnownPeers) Entries() ([]Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshLocked()
	if s.bad != nil {
		return nil, s.bad
	}
	return s.tab.clone(), nil
}

// update applies change to the file as it is on disk: under the file lock,
// it reads the file again if it changed, and writes what change returns
// (nil: nothing to write), atomically. A file that cannot be read is
// never written: it may hold keys we could not see.
func (s *KnownPeers) update(change func(*table) ([]Entry, error)) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	unlock, err := safefile.LockPath(s.lockPath)
	if err != nil {
		return fmt.Errorf("cannot lock %s to update the known peers: %w", s.lockPath, err)
	}
	defer unlock()
	s.mu.Lock()
	s.refreshLocked()
	t, bad := s.tab, s.bad
	s.mu.Unlock()
	if bad != nil {
		return bad
	}
	entries, err := change(t)
	if entries == nil || err != nil {
		return err
	}
	if err := writeFile(s.path, entries); err != nil {
		return err
	}
	// Still under the file lock: no one else can have changed it since.
	fi, err := os.Stat(s.path)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		s.tab, s.seen, s.read, s.bad = newTable(entries), fi, true, nil
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

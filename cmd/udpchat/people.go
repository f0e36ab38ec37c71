package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/store"
	"github.com/udpchat/udpchat/internal/ui/termsafe"
)

// People, not addresses, on the command line: the contacts the store
// keeps are named on it by a name (the one given them with udpchat
// contacts rename, else the one they announce), by their key's
// fingerprint, or by an address one of their endpoints has.

// fingerprint is the contact's key as udpchat id and trust show keys.
func fingerprint(c store.Contact) string { return keys.PublicKey(c.Key).Fingerprint() }

// errNoContact says who is no contact's, for a usage error.
func errNoContact(who string) error {
	return fmt.Errorf("no contact is %q (udpchat contacts lists them)", who)
}

// contactFor is the contact who names: a fingerprint (keys.ParseFingerprint
// forgives case and dashes), an address (HOST:PORT, as the history names
// it: see historyPeer) one of the contact's endpoints has, or a name (see
// store.ContactNamed). ok is false when who is a name or address no
// contact has. A fingerprint no contact has is errNoContact; a name or
// address more than one contact has is an error listing them, by name and
// fingerprint.
func contactFor(ctx context.Context, st *store.MessageDB, who string) (c store.Contact, ok bool, err error) {
	if fp, err := keys.ParseFingerprint(who); err == nil {
		return contactWhere(ctx, st, who, func(c store.Contact) bool { return fingerprint(c) == fp }, true)
	}
	if strings.Contains(who, ":") {
		addr, err := historyPeer(ctx, "PEER", who)
		if err != nil {
			return store.Contact{}, false, err
		}
		return contactWhere(ctx, st, who, func(c store.Contact) bool { return hasEndpoint(c, addr) }, false)
	}
	c, err = st.ContactNamed(ctx, who)
	var amb *store.AmbiguousNameError
	switch {
	case err == nil:
		return c, true, nil
	case errors.Is(err, store.ErrNoContact):
		return store.Contact{}, false, nil
	case errors.As(err, &amb):
		return store.Contact{}, false, ambiguous(who, amb.Candidates)
	}
	return store.Contact{}, false, err
}

// contactWhere is the one contact that matches; none is errNoContact if
// mustExist, else ok false; more than one is ambiguous.
func contactWhere(ctx context.Context, st *store.MessageDB, who string, match func(store.Contact) bool, mustExist bool) (store.Contact, bool, error) {
	cs, err := st.Contacts(ctx)
	if err != nil {
		return store.Contact{}, false, err
	}
	var found []store.Contact
	for _, c := range cs {
		if match(c) {
			found = append(found, c)
		}
	}
	switch {
	case len(found) == 1:
		return found[0], true, nil
	case len(found) > 1:
		return store.Contact{}, false, ambiguous(who, found)
	case mustExist:
		return store.Contact{}, false, usageError{errNoContact(who)}
	}
	return store.Contact{}, false, nil
}

// hasEndpoint says whether c was seen at addr (as the store names
// addresses: chat.PeerKey).
func hasEndpoint(c store.Contact, addr string) bool {
	for _, e := range c.Endpoints {
		if e.Address == addr {
			return true
		}
	}
	return false
}

// ambiguous is the usage error for who, which several contacts answer to:
// one line naming each, so that the user can pick one by fingerprint.
func ambiguous(who string, cs []store.Contact) error {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = fmt.Sprintf("%s (%s)", termsafe.Line(c.Name()), fingerprint(c))
	}
	return usagef("%d contacts are %q: %s; name one by its fingerprint, or rename one (udpchat contacts rename)",
		len(cs), who, strings.Join(names, ", "))
}

// mustContact is contactFor for a command that needs a contact: one that
// is no contact's is a usage error.
func mustContact(ctx context.Context, st *store.MessageDB, who string) (store.Contact, error) {
	c, ok, err := contactFor(ctx, st, who)
	if err == nil && !ok {
		err = usageError{errNoContact(who)}
	}
	return c, err
}

// newestEndpoint is the address c was last seen at, where to reach them;
// invalid if none (or none the store holds as an address).
func newestEndpoint(c store.Contact) netip.AddrPort {
	for _, e := range c.Endpoints { // newest first
		if addr, err := chat.PeerAddr(e.Address); err == nil {
			return addr
		}
	}
	return netip.AddrPort{}
}

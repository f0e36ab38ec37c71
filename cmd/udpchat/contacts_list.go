package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/udpchat/udpchat/internal/discovery"
	"github.com/udpchat/udpchat/internal/store"
	"github.com/udpchat/udpchat/internal/ui/termsafe"
)

// listContacts prints the contacts in dir, as JSON or as text. It reads
// the store beside a running chat, as history does.
func listContacts(ctx context.Context, dir string, asJSON bool, io stdio) error {
	interval, err := discoveryInterval()
	if err != nil {
		return err
	}
	var cs []store.Contact
	st, err := store.OpenReadOnly(ctx, dir)
	switch {
	case errors.Is(err, store.ErrNoHistory): // no contacts either
	case err != nil:
		return err
	default:
		defer st.Close()
		if cs, err = st.Contacts(ctx); err != nil {
			return err
		}
	}
	now := time.Now()
	nearbyWithin := discovery.ExpireIntervals * interval
	if asJSON {
		enc := json.NewEncoder(io.out)
		enc.SetEscapeHTML(false)
		for _, c := range cs {
			if err := enc.Encode(jsonContact(c, isNearby(c, now, nearbyWithin))); err != nil {
				return err
			}
		}
		return nil
	}
	if len(cs) == 0 {
		_, err := fmt.Fprintln(io.out, "No contacts yet: udpchat adds the people you chat with.")
		return err
	}
	for i, c := range cs {
		if i > 0 {
			fmt.Fprintln(io.out)
		}
		if err := printContact(io.out, c, isNearby(c, now, nearbyWithin)); err != nil {
			return err
		}
	}
	return nil
}

// isNearby says whether c was heard on the LAN within the last within
// (discovery's expiry) before now: nearby as a running chat last recorded
// it (store.Contact.NearbyAt).
func isNearby(c store.Contact, now time.Time, within time.Duration) bool {
	return !c.NearbyAt.IsZero() && now.Sub(c.NearbyAt) < within
}

// sourceWords says how an endpoint was learned, in the listing.
var sourceWords = map[store.Source]string{
	store.FromFlag:      "given with --peer",
	store.FromDiscovery: "heard on the LAN",
	store.FromRelay:     "through a relay",
	store.FromPacket:    "wrote from it",
}

// printContact writes c as a block of lines. Names and addresses are
// escaped as the chat escapes them (termsafe.Line): a name is the peer's
// choice and must not drive the terminal or forge a line.
func printContact(out io.Writer, c store.Contact, nearby bool) error {
	name := termsafe.Line(c.Name())
	switch {
	case name == "":
		name = "(no name)"
	case c.GivenName != "" && c.AnnouncedName != "" && c.GivenName != c.AnnouncedName:
		name += ` (announces "` + termsafe.Line(c.AnnouncedName) + `")`
	}
	near := "not nearby"
	if nearby {
		near = "nearby"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %s\n", name, fingerprint(c))
	fmt.Fprintf(&b, "  last seen %s, %s as last heard\n", c.LastSeen.Local().Format(historyTime), near)
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, e := range c.Endpoints {
		how, ok := sourceWords[e.Source]
		if !ok {
			how = termsafe.Line(string(e.Source))
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\n", termsafe.Line(e.Address), how, e.LastSeen.Local().Format(historyTime))
	}
	w.Flush()
	_, err := io.WriteString(out, b.String())
	return err
}

// contactJSON is one contact as --json prints it.
type contactJSON struct {
	Name          string         `json:"name"` // given, else announced
	GivenName     string         `json:"given_name,omitempty"`
	AnnouncedName string         `json:"announced_name"`
	Fingerprint   string         `json:"fingerprint"`
	FirstSeen     string         `json:"first_seen"`
	LastSeen      string         `json:"last_seen"`
	Nearby        bool           `json:"nearby"` // as last heard
	Endpoints     []endpointJSON `json:"endpoints"`
}

type endpointJSON struct {
	Address  string `json:"address"`
	Source   string `json:"source"` // flag, discovery, relay or packet
	LastSeen string `json:"last_seen"`
}

func jsonContact(c store.Contact, nearby bool) contactJSON {
	j := contactJSON{
		Name:          c.Name(),
		GivenName:     c.GivenName,
		AnnouncedName: c.AnnouncedName,
		Fingerprint:   fingerprint(c),
		FirstSeen:     c.FirstSeen.Format(time.RFC3339Nano),
		LastSeen:      c.LastSeen.Format(time.RFC3339Nano),
		Nearby:        nearby,
		Endpoints:     []endpointJSON{},
	}
	for _, e := range c.Endpoints {
		j.Endpoints = append(j.Endpoints, endpointJSON{Address: e.Address, Source: string(e.Source), LastSeen: e.LastSeen.Format(time.RFC3339Nano)})
	}
	return j
}

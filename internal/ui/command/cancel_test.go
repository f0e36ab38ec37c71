package command

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/udpchat/udpchat/internal/chat"
)

func id(hexDigits string) chat.MessageID {
	var id chat.MessageID
	for i := range id {
		if 2*i+1 < len(hexDigits) {
			var b byte
			for _, c := range hexDigits[2*i : 2*i+2] {
				b = b<<4 | byte(strings.IndexRune("0123456789abcdef", c))
			}
			id[i] = b
		}
	}
	return id
}

func TestPendingMessagesAndFindPending(t *testing.T) {
	bob, carol := netip.MustParseAddrPort("10.0.0.2:7475"), netip.MustParseAddrPort("10.0.0.3:7475")
	a, b, c := id("5f0c2a9e01"), id("5f0d0000"), id("8a1b2c3d")
	pending := PendingMessages([]chat.Sent{
		{ID: a, To: bob, Text: "still there?"},
		{ID: a, To: carol, Text: "still there?"},
		{ID: b, To: bob, Text: "waves", Action: true},
		{ID: c, To: carol, Text: "a line\nand another, rather longer than a snippet shows"},
	})
	if len(pending) != 3 || len(pending[0].To) != 2 || pending[0].To[1] != carol || pending[2].ID != c {
		t.Fatalf("PendingMessages grouped into %+v", pending)
	}

	for _, tc := range []struct {
		arg     string
		want    chat.MessageID
		wantErr string
	}{
		{"", c, ""}, // the newest
		{"5f0c", a, ""},
		{"5F0D", b, ""},
		{"8", c, ""},
		{"5f0", chat.MessageID{}, `2 messages waiting for delivery have IDs starting 5f0: give more of the ID (5f0d0000 "* waves", 5f0c2a9e "still there?")`},
		{"ff", chat.MessageID{}, `no message waiting for delivery has an ID starting ff; waiting: 8a1b2c3d "a line and another, rather long…", 5f0d0000 "* waves", 5f0c2a9e "still there?"`},
		{"hello", chat.MessageID{}, "/cancel hello: want the start of a message ID; waiting: 8a1b2c3d"},
	} {
		p, err := FindPending(pending, tc.arg)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("FindPending(%q): %v", tc.arg, err)
		case tc.wantErr == "" && p.ID != tc.want:
			t.Errorf("FindPending(%q) = %s, want %s", tc.arg, p.ID, tc.want)
		case tc.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.wantErr)):
			t.Errorf("FindPending(%q) = %v, want an error starting %q", tc.arg, err, tc.wantErr)
		}
	}
	if _, err := FindPending(nil, ""); err != ErrNothingPending {
		t.Errorf("FindPending(nothing) = %v", err)
	}

	got := CancelledText(pending[0], []chat.Cancelled{{ID: a, To: bob}, {ID: a, To: carol}},
		[]chat.PeerInfo{{Addr: bob, Name: "bob"}, {Addr: carol}}, 2)
	if want := `cancelled 5f0c2a9e "still there?" to bob (10.0.0.2:7475), 10.0.0.3:7475: it will not be sent again (2 messages still waiting: /cancel again for the newest)`; got != want {
		t.Errorf("CancelledText = %q, want %q", got, want)
	}
}

func TestListIsBoundedAndSafe(t *testing.T) {
	var pending []Pending
	for i := range 8 {
		pending = append(pending, Pending{ID: id(strings.Repeat(string("0123456789"[i]), 8)), Text: "evil \x1b[2J"})
	}
	got := List(pending)
	if !strings.HasPrefix(got, `77777777 "evil \x1b[2J", 66666666`) || !strings.HasSuffix(got, ", and 3 more") {
		t.Errorf("List = %q", got)
	}
}

func TestKeptNote(t *testing.T) {
	if got := KeptNote(1); !strings.HasPrefix(got, "it stays in the outbox and goes when udpchat next starts") ||
		!strings.Contains(got, "'udpchat history --pending' lists it, 'udpchat history --cancel ID' gives it up") {
		t.Errorf("KeptNote(1) = %q", got)
	}
	if got := KeptNote(2); !strings.HasPrefix(got, "they stay in the outbox and go") || !strings.Contains(got, "gives one up") {
		t.Errorf("KeptNote(2) = %q", got)
	}
}

func TestIDPrefix(t *testing.T) {
	for _, tc := range []struct {
		arg, want string
		ok        bool
	}{
		{"5F0c2", "5f0c2", true},
		{"", "", true},
		{strings.Repeat("a", 32), strings.Repeat("a", 32), true},
		{strings.Repeat("a", 33), "", false}, // longer than an ID
		{"5f0g", "", false},
		{"5f 0c", "", false},
	} {
		prefix, ok := IDPrefix(tc.arg)
		if ok != tc.ok || (ok && prefix != tc.want) {
			t.Errorf("IDPrefix(%q) = %q, %v; want %q, %v", tc.arg, prefix, ok, tc.want, tc.ok)
		}
	}
}

package command

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/udpchat/udpchat/internal/chat"
)

func TestParse(t *testing.T) {
	for line, want := range map[string]Command{
		"":                   {Kind: Skip},
		"   \t":              {Kind: Skip},
		"hello":              {Kind: Say, Arg: "hello"},
		"  spaced  ":         {Kind: Say, Arg: "  spaced  "},
		"two\nlines":         {Kind: Say, Arg: "two\nlines"},
		"bye":                {Kind: Bye, Arg: "bye"},
		" BYE ":              {Kind: Bye, Arg: "BYE"},
		"Exit":               {Kind: Bye, Arg: "Exit"},
		"goodbye":            {Kind: Say, Arg: "goodbye"},
		"existing":           {Kind: Say, Arg: "existing"},
		"bye now":            {Kind: Say, Arg: "bye now"},
		"bye\nnow":           {Kind: Say, Arg: "bye\nnow"},
		"/quit":              {Kind: Quit},
		"/QUIT now":          {Kind: Quit},
		"/me waves  ":        {Kind: Me, Arg: "waves"},
		"/me":                {Kind: Me},
		"/nick robert":       {Kind: Nick, Arg: "robert"},
		"/connect 1.2.3.4:5": {Kind: Connect, Arg: "1.2.3.4:5"},
		"/msg bob hi there":  {Kind: Msg, Arg: "bob hi there"},
		"/cancel":            {Kind: Cancel},
		"/cancel  5F0C2A ":   {Kind: Cancel, Arg: "5F0C2A"},
		"/peers":             {Kind: Peers},
		"/stats now":         {Kind: Stats},
		"/clear":             {Kind: Clear},
		"/help":              {Kind: Help},
		"/help  room ":       {Kind: Help, Arg: "room"},
		"//etc/passwd":       {Kind: Say, Arg: "/etc/passwd"},
		"/bye":               {Kind: Unknown, Arg: "bye"},
		"/":                  {Kind: Unknown},
		"/meow":              {Kind: Unknown, Arg: "meow"},
	} {
		if got := Parse(line); got != want {
			t.Errorf("Parse(%q) = %+v, want %+v", line, got, want)
		}
	}
}

func TestSplitPeer(t *testing.T) {
	for arg, want := range map[string][2]string{
		"bob hi there":      {"bob", "hi there"},
		"bob    spaced out": {"bob", "spaced out"},
		"bob":               {"bob", ""},
		"":                  {"", ""},
	} {
		if peer, text := SplitPeer(arg); peer != want[0] || text != want[1] {
			t.Errorf("SplitPeer(%q) = %q, %q; want %q", arg, peer, text, want)
		}
	}
}

func TestUsage(t *testing.T) {
	line, term := Usage(), Brief()
	for _, s := range Specs {
		if !strings.Contains(term, "  /"+s.Name) {
			t.Errorf("the terminal UI's help does not list /%s:\n%s", s.Name, term)
		}
		if listed := strings.Contains(line, "  /"+s.Name+" "); listed == s.TerminalOnly {
			t.Errorf("line mode usage lists /%s: %v, want %v", s.Name, listed, !s.TerminalOnly)
		}
	}
	if !strings.Contains(term, "  rooms   /room [create] NAME  /invite PEER  /join NAME  /part  /leave") {
		t.Errorf("the terminal UI's help does not list the room commands under rooms:\n%s", term)
	}
	for _, u := range []string{line, term} {
		if !strings.Contains(u, "bye") || !strings.Contains(u, "exit") || !strings.Contains(u, "//TEXT") {
			t.Errorf("usage lacks bye/exit or //TEXT:\n%s", u)
		}
	}
}

func TestExplain(t *testing.T) {
	for _, tc := range []struct {
		name     string
		terminal bool
		want     string // in the row; "" for an error
	}{
		{"room", true, "make room NAME the conversation"},
		{"/Leave", false, "only a new invitation brings you back"},
		{"peers", true, "list the peers"},
		{"peers", false, ""},
		{"meow", true, ""},
	} {
		row, err := Explain(tc.name, tc.terminal)
		if tc.want == "" && err == nil || tc.want != "" && !strings.Contains(row, tc.want) {
			t.Errorf("Explain(%q, %v) = %q, %v; want %q", tc.name, tc.terminal, row, err, tc.want)
		}
	}
}

func TestComplete(t *testing.T) {
	for _, tc := range []struct {
		prefix   string
		terminal bool
		want     []string
	}{
		{"/m", true, []string{"/me", "/msg", "/members"}},
		{"/r", true, []string{"/rename", "/room", "/remove"}},
		{"/m", false, []string{"/me", "/members"}},
		{"/ST", true, []string{"/stats"}},
		{"/", false, []string{"/me", "/cancel", "/send", "/accept", "/decline", "/nick", "/connect", "/forget", "/rename", "/room", "/invite", "/join", "/part", "/leave", "/remove", "/topic", "/members", "/info", "/quit", "/help"}},
		{"/c", true, []string{"/cancel", "/connect", "/clear"}},
		{"/x", true, nil},
		{"m", true, nil},
	} {
		if got := Complete(tc.prefix, tc.terminal); !slices.Equal(got, tc.want) {
			t.Errorf("Complete(%q, %v) = %q, want %q", tc.prefix, tc.terminal, got, tc.want)
		}
	}
	for words, want := range map[string]string{
		"/me /msg":        "/m",
		"/stats":          "/stats",
		"":                "",
		"zoë zoé":         "zo",
		"alice alicia al": "al",
	} {
		if got := CommonPrefix(strings.Fields(words)); got != want {
			t.Errorf("CommonPrefix(%q) = %q, want %q", words, got, want)
		}
	}
}

func TestUndelivered(t *testing.T) {
	bob, carol := netip.MustParseAddrPort("10.0.0.2:7475"), netip.MustParseAddrPort("10.0.0.3:7475")
	got := Undelivered(
		[]chat.Sent{{To: bob}, {To: carol}, {To: bob}},
		[]chat.PeerInfo{{Addr: bob, Name: "bob"}, {Addr: carol}},
	)
	if want := "2 messages to bob (10.0.0.2:7475), 1 message to 10.0.0.3:7475"; got != want {
		t.Errorf("Undelivered = %q, want %q", got, want)
	}
	if got := Undelivered(nil, nil); got != "" {
		t.Errorf("Undelivered(nil) = %q", got)
	}
}

// With a thousand peers waiting, the report is a line a person can read:
// how many, the first few, and the rest counted (not a 60 KB line).
func TestUndeliveredSummarisesManyPeers(t *testing.T) {
	var lost []chat.Sent
	var peers []chat.PeerInfo
	for i := range 1024 {
		addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 7475)
		lost = append(lost, chat.Sent{To: addr})
		peers = append(peers, chat.PeerInfo{Addr: addr, Name: fmt.Sprintf("peer%d", i)})
	}
	lost = append(lost, chat.Sent{To: lost[0].To})
	got := Undelivered(lost, peers)
	want := "1025 messages to 1024 peers: 2 messages to peer0 (10.0.0.0:7475), 1 message to peer1 (10.0.0.1:7475), " +
		"1 message to peer2 (10.0.0.2:7475) and 1021 more peers"
	if got != want {
		t.Errorf("Undelivered to 1024 peers = %q (%d bytes), want %q", got, len(got), want)
	}
}

func TestCompletePath(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"photos", ".cache"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"photo.jpg", "notes.txt", ".profile"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for prefix, want := range map[string][]string{
		dir + "/pho": {dir + "/photo.jpg", dir + "/photos/"},
		dir + "/n":   {dir + "/notes.txt"},
		dir + "/.":   {dir + "/.cache/", dir + "/.profile"},
		dir + "/x":   nil,
	} {
		if got := CompletePath(prefix); !slices.Equal(got, want) {
			t.Errorf("CompletePath(%q) = %q, want %q", prefix, got, want)
		}
	}
}

// /info says how the room's messages travel: a big room with a relay goes
// through the relay's fan-out, any other is a mesh.
func TestMissingTextSaysTheMode(t *testing.T) {
	for _, c := range []struct {
		info    chat.RoomInfo
		missing []string
		want    string
	}{
		{chat.RoomInfo{Name: "ops", Fanout: true}, nil, `every member has "hi" (#ops: via relay fan-out)`},
		{chat.RoomInfo{Name: "ops"}, []string{"bob", "carol"}, `"hi" is not yet with: bob, carol (#ops: mesh)`},
	} {
		if got := MissingText("hi", c.missing, c.info); got != c.want {
			t.Errorf("MissingText = %q, want %q", got, c.want)
		}
	}
}

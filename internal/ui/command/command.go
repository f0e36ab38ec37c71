// Package command is what udpchat's UIs share about what a user types: which
// lines are commands, which commands there are, how /help describes them and
// how Tab completes them. Line mode and the terminal UI both parse with it, so
// a line means the same thing in either.
package command

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/udpchat/udpchat/internal/chat"
)

// Kind is what a line of input asks for.
type Kind int

const (
	Skip     Kind = iota // a blank line
	Say                  // send Arg as a message
	Bye                  // send Arg (the word), wait for delivery, leave
	Quit                 // leave without sending
	Me                   // send Arg as an action
	Nick                 // change our name to Arg
	Connect              // add the peer at Arg
	Forget               // drop the peer Arg names and what waits for it
	Rename               // give a peer a name of ours: Arg is "PEER NAME" (see SplitPeer)
	Msg                  // send to one peer: Arg is "PEER TEXT" (see SplitPeer)
	Cancel               // give up on a message waiting for delivery: Arg is "" (the newest) or an ID prefix
	Peers                // list the peers
	Stats                // show each peer's link numbers
	Clear                // clear the screen's messages
	Help                 // show help
	Room                 // rooms: Arg is "create NAME", "NAME" (make it the conversation) or "" (list them)
	Invite               // invite the peer Arg to the current room
	Join                 // accept the invitation to the room Arg
	Part                 // leave the current room's conversation
	Leave                // leave the current room for good
	Remove               // remove the member Arg from the current room (its founder)
	Topic                // set the current room's topic to Arg (its founder), or show it ("")
	Members              // list the current room's members
	Info                 // who is still missing our newest room message
	SendFile             // offer a file: Arg is "[PEER] PATH" (see RunFile)
	Accept               // take a file offered: Arg is "" (the only one waiting) or an ID prefix
	Decline              // refuse a file offered: as Accept
	Unknown              // an unknown /command, named by Arg
)

// Command is one parsed line of input.
type Command struct {
	Kind Kind
	Arg  string
}

// Parse says what line asks for. Only a line that is exactly bye or exit
// (chat.IsBye: the rule a plain peer's bye is read by too) leaves;
// "goodbye" and "existing" are text. A line starting with // sends the rest, starting with /. A command's
// argument has the spaces around it removed.
func Parse(line string) Command {
	trimmed := strings.TrimSpace(line)
	switch {
	case trimmed == "":
		return Command{Kind: Skip}
	case chat.IsBye(trimmed):
		return Command{Kind: Bye, Arg: trimmed}
	case strings.HasPrefix(line, "//"):
		return Command{Kind: Say, Arg: line[1:]}
	case !strings.HasPrefix(line, "/"):
		return Command{Kind: Say, Arg: line}
	}
	name, arg, _ := strings.Cut(line[1:], " ")
	arg = strings.TrimSpace(arg)
	if s, ok := lookup(name); ok {
		switch s.Kind {
		case Quit, Peers, Stats, Clear, Part, Leave, Members, Info:
			arg = "" // they take no argument; the rest is ignored
		}
		return Command{Kind: s.Kind, Arg: arg}
	}
	return Command{Kind: Unknown, Arg: name}
}

// WhoAmI is what /nick with no name says: the name we have, and how to
// change it. name is as given: the UI escapes what it prints.
func WhoAmI(name string) string {
	return fmt.Sprintf("you are %s; /nick NAME changes it", name)
}

// SplitPeer splits /msg's (and /rename's) argument into the peer (the
// first word) and the text (the rest).
func SplitPeer(arg string) (peer, text string) {
	peer, text, _ = strings.Cut(arg, " ")
	return peer, strings.TrimLeft(text, " ")
}

// Spec describes one slash command.
type Spec struct {
	Kind Kind
	Name string // without the slash
	Args string // the argument, as /help shows it ("" for none)
	Help string
	// TerminalOnly says only the terminal UI has it: line mode's output is
	// for scripts, and a listing or a cleared screen means nothing there.
	TerminalOnly bool
	// Group is the heading Brief lists it under.
	Group string
}

// Specs are the slash commands, in the order /help lists them.
var Specs = []Spec{
	{Kind: Me, Name: "me", Args: "ACTION", Help: `send an action, shown as "* NAME ACTION"`, Group: "say"},
	{Kind: Msg, Name: "msg", Args: "PEER TEXT", Help: "send TEXT to one peer only (a name or IP:PORT; or someone known or nearby, who becomes a peer), marked as for them alone", TerminalOnly: true, Group: "say"},
	{Kind: Cancel, Name: "cancel", Args: "[ID]", Help: "give up on your newest undelivered message (or the one whose ID starts with ID), or stop the file transfer ID", Group: "say"},
	{Kind: SendFile, Name: "send", Args: "[PEER] PATH", Help: "offer the file at PATH to PEER (or the one peer there; in a room, its members)", Group: "files"},
	{Kind: Accept, Name: "accept", Args: "[ID]", Help: "take the file offered (the one whose ID starts with ID) into the downloads dir", Group: "files"},
	{Kind: Decline, Name: "decline", Args: "[ID]", Help: "refuse the file offered (the one whose ID starts with ID)", Group: "files"},
	{Kind: Nick, Name: "nick", Args: "NAME", Help: "change your name", Group: "you"},
	{Kind: Connect, Name: "connect", Args: "PEER", Help: "add a peer: HOST:PORT, or the name or key of someone known or nearby", Group: "peers"},
	{Kind: Forget, Name: "forget", Args: "PEER", Help: "drop a peer (a name or IP:PORT) and cancel what waits for it", Group: "peers"},
	{Kind: Rename, Name: "rename", Args: "PEER NAME", Help: "call a peer NAME here, whatever name it announces (no NAME: its own again)", Group: "peers"},
	{Kind: Peers, Name: "peers", Help: "list the peers: state, round trip, encryption", TerminalOnly: true, Group: "peers"},
	{Kind: Stats, Name: "stats", Help: "per peer: round trip, loss, retransmits, bytes, path MTU", TerminalOnly: true, Group: "peers"},
	{Kind: Clear, Name: "clear", Help: "clear the messages on the screen", TerminalOnly: true, Group: "you"},
	{Kind: Room, Name: "room", Args: "[create] NAME", Help: "make room NAME the conversation (create: found it); alone: list your rooms", Group: "rooms"},
	{Kind: Invite, Name: "invite", Args: "PEER", Help: "invite a connected peer (a name or IP:PORT) to the current room (its founder only)", Group: "rooms"},
	{Kind: Join, Name: "join", Args: "NAME", Help: "accept the invitation to room NAME, and make it the conversation", Group: "rooms"},
	{Kind: Part, Name: "part", Help: "leave the current room's conversation (lines go to the peers again)", Group: "rooms"},
	{Kind: Leave, Name: "leave", Help: "leave the current room for good: its founder removes you, and only a new invitation brings you back", Group: "rooms"},
	{Kind: Remove, Name: "remove", Args: "PERSON", Help: "remove a member (a name or key fingerprint) from the current room (its founder only)", Group: "rooms"},
	{Kind: Topic, Name: "topic", Args: "[TEXT]", Help: "set the current room's topic (its founder only); alone: show it", Group: "rooms"},
	{Kind: Members, Name: "members", Help: "list the current room's members", Group: "rooms"},
	{Kind: Info, Name: "info", Help: "who does not yet have your newest message in the current room", Group: "rooms"},
	{Kind: Quit, Name: "quit", Help: "leave without sending anything more", Group: "you"},
	{Kind: Help, Name: "help", Args: "[NAME]", Help: "show this help (NAME: what the command /NAME does)", Group: "you"},
}

func lookup(name string) (Spec, bool) {
	i := slices.IndexFunc(Specs, func(s Spec) bool { return strings.EqualFold(s.Name, name) })
	if i < 0 {
		return Spec{}, false
	}
	return Specs[i], true
}

// Lookup returns the spec of the command of kind k.
func Lookup(k Kind) (Spec, bool) {
	i := slices.IndexFunc(Specs, func(s Spec) bool { return s.Kind == k })
	if i < 0 {
		return Spec{}, false
	}
	return Specs[i], true
}

// Usage lists line mode's commands, one a line with what it does, as its
// /help shows them.
func Usage() string {
	var b strings.Builder
	for _, s := range Specs {
		if s.TerminalOnly {
			continue
		}
		b.WriteString(usageRow(s))
	}
	fmt.Fprintf(&b, "  %-15s %s\n  %-15s %s\n", "bye, exit", "send it, wait until it is delivered, and leave", "//TEXT", "send /TEXT")
	return b.String()
}

// Brief lists the terminal UI's commands by group, a line a group, with
// their arguments but not what they do: the terminal UI's /help, which
// shares the screen with the peers and should fit it, where Usage would run
// to three screens. /help NAME (Explain) says what one command does.
func Brief() string {
	var groups []string // in the order they first come in Specs
	items := map[string][]string{}
	for _, s := range Specs {
		if items[s.Group] == nil {
			groups = append(groups, s.Group)
		}
		items[s.Group] = append(items[s.Group], strings.TrimSpace("/"+s.Name+" "+s.Args))
	}
	var b strings.Builder
	for _, g := range groups {
		fmt.Fprintf(&b, "  %-6s  %s\n", g, strings.Join(items[g], "  "))
	}
	b.WriteString("  bye, exit: sent, then you leave once delivered · //TEXT sends /TEXT\n")
	return b.String()
}

// Explain is /help NAME: Usage's line for the command /NAME (the slash may
// be given or not), or an error if there is none.
func Explain(name string, terminal bool) (string, error) {
	name = strings.TrimPrefix(name, "/")
	s, ok := lookup(name)
	switch {
	case !ok:
		return "", fmt.Errorf("no command /%s; /help lists them", name)
	case s.TerminalOnly && !terminal:
		return "", fmt.Errorf("/%s works in the terminal UI only; /help lists the commands of line mode", s.Name)
	}
	return usageRow(s), nil
}

func usageRow(s Spec) string {
	return fmt.Sprintf("  %-15s %s\n", strings.TrimSpace("/"+s.Name+" "+s.Args), s.Help)
}

// Complete returns the commands (with their slash) whose names start with
// prefix, itself starting with a slash, in the order Specs lists them.
func Complete(prefix string, terminal bool) []string {
	name, ok := strings.CutPrefix(prefix, "/")
	if !ok {
		return nil
	}
	var out []string
	for _, s := range Specs {
		if (!s.TerminalOnly || terminal) && strings.HasPrefix(s.Name, strings.ToLower(name)) {
			out = append(out, "/"+s.Name)
		}
	}
	return out
}

// CommonPrefix is the longest prefix all of words share.
func CommonPrefix(words []string) string {
	if len(words) == 0 {
		return ""
	}
	p := words[0]
	for _, w := range words[1:] {
		for !strings.HasPrefix(w, p) {
			_, size := utf8.DecodeLastRuneInString(p)
			p = p[:len(p)-size]
		}
	}
	return p
}

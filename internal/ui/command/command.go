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
		case Quit, Help, Peers, Stats, Clear, Part, Leave, Members, Info:
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
	// LineOnly says only line mode has it so far: rooms, until the
	// terminal UI has its conversation list.
	LineOnly bool
}

// Specs are the slash commands, in the order /help lists them.
var Specs = []Spec{
	{Kind: Me, Name: "me", Args: "ACTION", Help: `send an action, shown as "* NAME ACTION"`},
	{Kind: Msg, Name: "msg", Args: "PEER TEXT", Help: "send TEXT to one peer only (a name or IP:PORT; or someone known or nearby, who becomes a peer), marked as for them alone", TerminalOnly: true},
	{Kind: Cancel, Name: "cancel", Args: "[ID]", Help: "give up on your newest undelivered message (or the one whose ID starts with ID), or stop the file transfer ID"},
	{Kind: SendFile, Name: "send", Args: "[PEER] PATH", Help: "offer the file at PATH to PEER (or to the one peer there is)"},
	{Kind: Accept, Name: "accept", Args: "[ID]", Help: "take the file offered (the one whose ID starts with ID) into the downloads dir"},
	{Kind: Decline, Name: "decline", Args: "[ID]", Help: "refuse the file offered (the one whose ID starts with ID)"},
	{Kind: Nick, Name: "nick", Args: "NAME", Help: "change your name"},
	{Kind: Connect, Name: "connect", Args: "PEER", Help: "add a peer: HOST:PORT, or the name or key of someone known or nearby"},
	{Kind: Forget, Name: "forget", Args: "PEER", Help: "drop a peer (a name or IP:PORT) and cancel what waits for it"},
	{Kind: Rename, Name: "rename", Args: "PEER NAME", Help: "call a peer NAME here, whatever name it announces (no NAME: its own again)"},
	{Kind: Peers, Name: "peers", Help: "list the peers: state, round trip, encryption", TerminalOnly: true},
	{Kind: Stats, Name: "stats", Help: "per peer: round trip, loss, retransmits, bytes, path MTU", TerminalOnly: true},
	{Kind: Clear, Name: "clear", Help: "clear the messages on the screen", TerminalOnly: true},
	{Kind: Room, Name: "room", Args: "[create] NAME", Help: "make room NAME the conversation (create: found it); alone: list your rooms", LineOnly: true},
	{Kind: Invite, Name: "invite", Args: "PEER", Help: "invite a connected peer (a name or IP:PORT) to the current room (its founder only)", LineOnly: true},
	{Kind: Join, Name: "join", Args: "NAME", Help: "accept the invitation to room NAME, and make it the conversation", LineOnly: true},
	{Kind: Part, Name: "part", Help: "leave the current room's conversation (lines go to the peers again)", LineOnly: true},
	{Kind: Leave, Name: "leave", Help: "leave the current room for good: its founder removes you, and only a new invitation brings you back", LineOnly: true},
	{Kind: Remove, Name: "remove", Args: "PERSON", Help: "remove a member (a name or key fingerprint) from the current room (its founder only)", LineOnly: true},
	{Kind: Topic, Name: "topic", Args: "[TEXT]", Help: "set the current room's topic (its founder only); alone: show it", LineOnly: true},
	{Kind: Members, Name: "members", Help: "list the current room's members", LineOnly: true},
	{Kind: Info, Name: "info", Help: "who does not yet have your newest message in the current room", LineOnly: true},
	{Kind: Quit, Name: "quit", Help: "leave without sending anything more"},
	{Kind: Help, Name: "help", Help: "show this help"},
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

// Usage lists the commands, one a line, as /help shows them: those of the
// terminal UI if terminal, else those of line mode.
func Usage(terminal bool) string {
	var b strings.Builder
	row := func(left, right string) { fmt.Fprintf(&b, "  %-15s %s\n", left, right) }
	for _, s := range Specs {
		if s.TerminalOnly && !terminal || s.LineOnly && terminal {
			continue
		}
		row(strings.TrimSpace("/"+s.Name+" "+s.Args), s.Help)
	}
	row("bye, exit", "send it, wait until it is delivered, and leave")
	row("//TEXT", "send /TEXT")
	return b.String()
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
		if (!s.TerminalOnly || terminal) && (!s.LineOnly || !terminal) && strings.HasPrefix(s.Name, strings.ToLower(name)) {
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

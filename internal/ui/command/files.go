package command

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/udpchat/udpchat/internal/chat"
)

// What the UIs say about files; the UI escapes what it prints.

func who(t chat.FileTransfer) string {
	if t.PeerName != "" {
		return t.PeerName
	}
	return t.Peer.String()
}

// FileOfferText says a peer offers a file, and how to take it.
func FileOfferText(ev chat.FileOffer) string {
	if ev.Resumed {
		return fmt.Sprintf("%s's %s (%s) goes on where it stopped [%s]", who(ev.FileTransfer), ev.Name, humanize.IBytes(ev.Size), short(ev.ID))
	}
	return fmt.Sprintf("%s offers %s (%s): /accept %s or /decline %s", who(ev.FileTransfer), ev.Name, humanize.IBytes(ev.Size), short(ev.ID), short(ev.ID))
}

// FileProgressText is a transfer's progress in words.
func FileProgressText(ev chat.FileProgress) string {
	s := fmt.Sprintf("%s %s: %s of %s", direction(ev.FileTransfer), ev.Name, humanize.IBytes(ev.Bytes), humanize.IBytes(ev.Size))
	if ev.Rate > 0 {
		s += fmt.Sprintf(", %s/s", humanize.IBytes(uint64(ev.Rate)))
	}
	if ev.Left > 0 {
		s += fmt.Sprintf(", %s left", ev.Left.Round(time.Second))
	}
	return s
}

// FileDoneText says a transfer is complete.
func FileDoneText(ev chat.FileDone) string {
	if ev.Incoming {
		return fmt.Sprintf("received %s from %s, verified: %s", ev.Name, who(ev.FileTransfer), ev.Path)
	}
	return fmt.Sprintf("%s has %s (%s), verified", who(ev.FileTransfer), ev.Name, humanize.IBytes(ev.Size))
}

// FileFailedText says why a transfer ended without the file.
func FileFailedText(ev chat.FileFailed) string {
	return fmt.Sprintf("%s %s: %v", direction(ev.FileTransfer), ev.Name, ev.Err)
}

func direction(t chat.FileTransfer) string {
	if t.Incoming {
		return "from " + who(t) + ":"
	}
	return "to " + who(t) + ":"
}

// short is the part of a transfer ID a person types: enough to tell it
// from the few under way.
func short(id chat.FileID) string { return id.String()[:8] }

// RunFile carries out /send, /accept or /decline on node, or /cancel of a
// file transfer, and returns what to tell the person. /send offers the
// file to room's members if room is not "" (the room is the
// conversation), else to a peer. It hashes the file first: call it from
// another goroutine than the one reading events.
func RunFile(node *chat.Node, room string, cmd Command) (string, error) {
	switch cmd.Kind {
	case SendFile:
		if room != "" {
			return OfferRoomFile(node, room, cmd.Arg)
		}
		peer, path, err := sendTarget(node.Peers(), cmd.Arg)
		if err != nil {
			return "", err
		}
		return OfferFile(node, peer, path)
	case Accept, Decline:
		id, err := node.FindFile(cmd.Arg)
		if err != nil {
			return "", err
		}
		if cmd.Kind == Accept {
			return fmt.Sprintf("accepted [%s]", short(id)), node.AcceptFile(id)
		}
		return fmt.Sprintf("declined [%s]", short(id)), node.DeclineFile(id)
	case Cancel:
		id, err := node.FindFile(cmd.Arg)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("stopped [%s]", short(id)), node.CancelFile(id)
	}
	return "", fmt.Errorf("not a file command")
}

// OfferFile offers the file at path to peer, and returns what to tell the
// person. It hashes the file first: call it from another goroutine than
// the one reading events.
func OfferFile(node *chat.Node, peer chat.PeerInfo, path string) (string, error) {
	ft, err := node.SendFile(peer.Addr, path)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("offered %s (%s) to %s [%s]", ft.Name, humanize.IBytes(ft.Size), who(ft), short(ft.ID)), nil
}

// OfferRoomFile offers the file at path to every other member of room,
// and returns what to tell the person: to whom it went, and who gets it
// when they connect.
func OfferRoomFile(node *chat.Node, room, path string) (string, error) {
	rs := node.Rooms()
	if rs == nil {
		return "", errors.New("rooms need encryption (not --plain)")
	}
	if path == "" {
		return "", errors.New("/send needs a file, e.g. /send ~/photo.jpg: it goes to every member of the room")
	}
	sent, err := rs.SendFile(room, expandHome(path))
	if err != nil {
		return "", err
	}
	if len(sent.Offered) == 0 && len(sent.Later) == 0 {
		return "", fmt.Errorf("#%s has no other member to send it to", room)
	}
	said := fmt.Sprintf("offered %s to #%s", filepath.Base(path), room)
	var to []string
	for i, ft := range sent.Offered {
		if i == 0 {
			said = fmt.Sprintf("offered %s (%s) to #%s", ft.Name, humanize.IBytes(ft.Size), room)
		}
		to = append(to, fmt.Sprintf("%s [%s]", who(ft), short(ft.ID)))
	}
	if len(to) > 0 {
		said += ": " + strings.Join(to, ", ")
	}
	if len(sent.Later) > 0 {
		said += "; " + strings.Join(sent.Later, ", ") + " when they connect"
	}
	return said, nil
}

// IsFileCancel says whether /cancel's argument names a file transfer
// under way rather than a message.
func IsFileCancel(node *chat.Node, arg string) bool {
	if arg == "" {
		return false
	}
	_, err := node.FindFile(arg)
	return err == nil
}

// sendTarget reads /send's argument: a peer and a path, or only a path
// when there is one peer in the conversation.
func sendTarget(peers []chat.PeerInfo, arg string) (chat.PeerInfo, string, error) {
	if arg == "" {
		return chat.PeerInfo{}, "", errors.New("/send needs a file, e.g. /send ~/photo.jpg or /send bob ~/photo.jpg")
	}
	if first, rest := SplitPeer(arg); rest != "" {
		if p, err := FindPeer(peers, first); err == nil {
			return p, expandHome(rest), nil
		}
	}
	p, n := FileTarget(peers)
	if n != 1 {
		return chat.PeerInfo{}, "", fmt.Errorf("%d peers are here: say which, /send PEER PATH", n)
	}
	return p, expandHome(arg), nil
}

// FileTarget is whom a file named without a peer goes to: the one peer in
// the conversation. n is how many there are; p is theirs only if n is 1.
func FileTarget(peers []chat.PeerInfo) (p chat.PeerInfo, n int) {
	for _, q := range peers {
		if q.Name != "" && q.State == chat.PeerOnline {
			p, n = q, n+1
		}
	}
	if n != 1 {
		return chat.PeerInfo{}, n
	}
	return p, n
}

// PastedFile is the file a line names when the line is nothing but the
// path of an existing regular file, as a terminal pastes one dropped on it
// from a file manager, or a person types it: absolute or ~/..., whole in
// quotes ('...' or "..."), with its spaces and other specials escaped by
// backslashes (/tmp/my\ file.txt), or a file:// URL. ok is false for any
// other line, which is a message.
func PastedFile(line string) (path string, size int64, ok bool) {
	s := strings.TrimSpace(line)
	if s == "" || strings.ContainsAny(s, "\n\r") {
		return "", 0, false
	}
	switch {
	case len(s) >= 2 && (s[0] == '\'' || s[0] == '"') && s[len(s)-1] == s[0]:
		s = s[1 : len(s)-1]
	case strings.HasPrefix(s, "file://"):
		u, err := url.Parse(s)
		if err != nil || (u.Host != "" && u.Host != "localhost") {
			return "", 0, false
		}
		s = u.Path
	default:
		s = unescapeShell(s)
	}
	if !filepath.IsAbs(s) && !strings.HasPrefix(s, "~/") {
		return "", 0, false
	}
	s = expandHome(s)
	fi, err := os.Stat(s)
	if err != nil || !fi.Mode().IsRegular() {
		return "", 0, false
	}
	return s, fi.Size(), true
}

// unescapeShell undoes a shell's backslash escapes (a backslash before a
// space, a parenthesis, ...), as terminals escape a dropped file's path.
func unescapeShell(s string) string {
	if !strings.Contains(s, "\\") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// expandHome turns a leading ~/ into the home dir, as a shell would.
func expandHome(path string) string {
	if rest, ok := strings.CutPrefix(path, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return path
}

// CompletePath lists what a path being typed after /send may go on as:
// the entries of its dir that start with its last element, a dir's with
// a "/" after it, hidden ones only if the element starts with a dot. A
// leading ~/ stays as typed.
func CompletePath(prefix string) []string {
	dir, base := filepath.Split(prefix)
	read := expandHome(dir)
	if read == "" {
		read = "."
	}
	entries, err := os.ReadDir(read)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, base) || (strings.HasPrefix(name, ".") && !strings.HasPrefix(base, ".")) {
			continue
		}
		if e.IsDir() {
			name += "/"
		}
		out = append(out, dir+name)
	}
	return out
}

package command

import (
	"os"
	"path/filepath"
	"testing"
)

// A line is a file to offer only when it is nothing but the path of an
// existing regular file, in the forms terminals paste a dropped file in.
func TestPastedFile(t *testing.T) {
	dir := t.TempDir()
	home := t.TempDir()
	t.Setenv("HOME", home)
	spaced := filepath.Join(dir, "my photo (1).jpg")
	plain := filepath.Join(home, "notes.txt")
	for _, p := range []string{spaced, plain} {
		if err := os.WriteFile(p, []byte("12345"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		line string
		want string // "": a message
	}{
		{plain, plain},
		{"  " + plain + " ", plain},
		{"~/notes.txt", plain},
		{"'" + spaced + "'", spaced},
		{`"` + spaced + `"`, spaced},
		{filepath.Join(dir, `my\ photo\ \(1\).jpg`), spaced},
		{"file://" + filepath.Join(dir, "my%20photo%20%281%29.jpg"), spaced},
		{spaced, spaced},                 // as it is, spaces and all
		{"notes.txt", ""},                // relative: a word
		{dir, ""},                        // a directory
		{filepath.Join(dir, "gone"), ""}, // no such file
		{plain + "\n" + plain, ""},       // two lines
		{"see " + plain, ""},             // a sentence naming a file
		{"file://elsewhere" + plain, ""}, // another host's file
		{"'" + plain, ""},                // an unmatched quote
	} {
		got, size, ok := PastedFile(c.line)
		if ok != (c.want != "") || got != c.want || (ok && size != 5) {
			t.Errorf("PastedFile(%q) = %q, %d, %v; want %q", c.line, got, size, ok, c.want)
		}
	}
}

//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenDataDirWarned: a data dir other users may enter is used, with one
// line on stderr that says what they can do and how to stop it; a private
// one, or one udpchat makes, gets no warning.
func TestOpenDataDirWarned(t *testing.T) {
	for _, tc := range []struct {
		mode os.FileMode // 0: udpchat makes the dir
		want string      // "" for no warning
	}{
		{0, ""},
		{0o700, ""},
		{0o755, "has mode 0755, so other users can see the names, sizes and times of the files in it; run chmod 700 "},
		{0o777, "has mode 0777, so other users can replace the files in it (your identity key among them); run chmod 700 "},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			if tc.mode != 0 {
				if err := os.Mkdir(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(dir, tc.mode); err != nil {
					t.Fatal(err)
				}
			}
			var stderr strings.Builder
			got, err := makeDataDir(dir, &stderr)
			if err != nil || got != dir {
				t.Fatalf("makeDataDir = %q, %v", got, err)
			}
			fi, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if want := max(tc.mode, 0o700); fi.Mode().Perm() != want {
				t.Errorf("dir mode %04o, want %04o: makeDataDir should not change it", fi.Mode().Perm(), want)
			}
			if tc.want == "" {
				if stderr.Len() != 0 {
					t.Errorf("stderr %q, want nothing", stderr.String())
				}
				return
			}
			want := "udpchat: warning: data dir " + dir + " " + tc.want + dir + "\n"
			if stderr.String() != want {
				t.Errorf("stderr %q\nwant   %q", stderr.String(), want)
			}
		})
	}
}

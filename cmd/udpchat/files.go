package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/dustin/go-humanize"
	"github.com/spf13/pflag"

	"github.com/udpchat/udpchat/internal/chat"
)

// fileFlags are the chat's flags about files offered to us.
type fileFlags struct {
	downloads string
	accept    bool
	maxSize   string
}

// defaultMaxFileSize is --max-file-size's default, as the files core's.
const defaultMaxFileSize = "4GiB"

func (ff *fileFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&ff.downloads, "downloads", "", "`DIR` that files sent to you land in (default: ~/Downloads/udpchat)")
	fs.BoolVar(&ff.accept, "accept-files", false, "take every file offered (up to --max-file-size) without asking")
	fs.StringVar(&ff.maxSize, "max-file-size", defaultMaxFileSize, "decline files larger than `SIZE` (bytes, or 100MB, 4GiB, ...)")
}

// config is the chat's FileConfig: the downloads dir made if missing.
func (ff *fileFlags) config() (chat.FileConfig, error) {
	size, err := humanize.ParseBytes(ff.maxSize)
	if err != nil {
		return chat.FileConfig{}, usagef("--max-file-size %q: %v", ff.maxSize, err)
	}
	dir := ff.downloads
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return chat.FileConfig{}, fmt.Errorf("no downloads dir (give one with --downloads): %w", err)
		}
		dir = filepath.Join(home, "Downloads", "udpchat")
	}
	dir, err = filepath.Abs(dir) // the paths events name are whole
	if err == nil {
		err = os.MkdirAll(dir, 0o700)
	}
	if err != nil {
		return chat.FileConfig{}, fmt.Errorf("the downloads dir: %w", err)
	}
	return chat.FileConfig{Dir: dir, MaxSize: size, AutoAccept: ff.accept}, nil
}

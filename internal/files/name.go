package files

import (
	"fmt"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxNameLen bounds a sanitized name in bytes: under the 255 of most file
// systems, with room for " (999)".
const maxNameLen = 240

// maxCopies bounds the numbered names tried for one file: name (1).ext up
// to name (999).ext.
const maxCopies = 1000

// SanitizeName makes an offered name a safe name for a file in the
// downloads dir: only its last path element (of / or \), invalid UTF-8,
// control characters (NUL, newlines, escapes) and bidirectional overrides
// replaced by "_", leading and trailing dots and spaces gone (so it is
// neither hidden, nor "." or "..", nor one of our temporary files), at
// most 240 bytes with its extension kept, and "file" if nothing is left.
// The result never names anything outside the dir it is joined to.
func SanitizeName(name string) string {
	name = strings.ToValidUTF8(name, "_")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u2028' || r == '\u2029' {
			return '_'
		}
		return r
	}, name)
	name = strings.Trim(name, " .")
	if len(name) > maxNameLen {
		base, ext := splitExt(name)
		if len(ext) > maxNameLen/4 {
			base, ext = name, ""
		}
		base = base[:maxNameLen-len(ext)]
		for !utf8.ValidString(base) {
			base = base[:len(base)-1]
		}
		name = strings.TrimRight(base, " .") + ext
	}
	if name == "" {
		return "file"
	}
	return name
}

// numbered is the k-th name for a file called name: name itself, then
// "name (1).ext", "name (2).ext", ... as browsers do, so nothing already
// in the downloads dir is ever overwritten.
func numbered(name string, k int) string {
	if k == 0 {
		return name
	}
	base, ext := splitExt(name)
	return fmt.Sprintf("%s (%d)%s", base, k, ext)
}

// splitExt splits off a name's extension, ".tar.gz" and the like as one.
func splitExt(name string) (base, ext string) {
	ext = filepath.Ext(name)
	base = strings.TrimSuffix(name, ext)
	if inner := filepath.Ext(base); strings.EqualFold(inner, ".tar") {
		base, ext = strings.TrimSuffix(base, inner), inner+ext
	}
	if base == "" { // ".gz": no base to number
		return name, ""
	}
	return base, ext
}

package main

import (
	"os"
	"strings"

	"github.com/rangecast/rangecast/pkg/share"
	"github.com/rangecast/rangecast/pkg/signaling"
)

// envLink names the environment variable that supplies the link when a command's LINK
// argument is left out.
const envLink = "RANGECAST_LINK"

// isLink reports whether arg is meant as a link rather than a path: links are URLs.
func isLink(arg string) bool {
	return strings.HasPrefix(arg, "http://") || strings.HasPrefix(arg, "https://")
}

// splitLink takes the link off a command's positional arguments. The rule (rangecast help):
// a first argument that starts with http:// or https:// is the link; otherwise, when
// RANGECAST_LINK is set, it is the link and every argument is a path. Without either, ok is
// false and the caller reports the missing LINK.
func splitLink(pos []string) (link string, rest []string, ok bool) {
	if len(pos) > 0 && isLink(pos[0]) {
		return pos[0], pos[1:], true
	}
	if env := os.Getenv(envLink); env != "" {
		return env, pos, true
	}
	// No link: a first argument that is not a URL is still taken as the LINK, so that
	// `rangecast ls garbage` reports a bad link rather than a missing one.
	if len(pos) > 0 {
		return pos[0], pos[1:], true
	}
	return "", nil, false
}

// linkHelp is the paragraph every client command's help ends with.
const linkHelp = `
LINK is what 'rangecast serve' printed (quote it: # starts a shell comment). With
RANGECAST_LINK set it may be left out: a first argument starting with http:// or https://
is the link, otherwise every argument is a path and the link is $RANGECAST_LINK.
`

// linkScope returns what a share link opens ("" for the root, an owner's link, or no link).
func linkScope(link string) string {
	l, err := signaling.ParseLink(link)
	if err != nil || l.Share == "" {
		return ""
	}
	sl, err := share.Parse(l.Share)
	if err != nil {
		return ""
	}
	return sl.Scope
}

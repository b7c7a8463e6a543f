// Package locales holds every text Sportello shows to citizens, in Italian and
// English, embedded in the binary. Message files are named
// <topic>.<lang>.yaml; vocabulary.yaml lists the words citizens type for the
// global commands and the words that tell the two languages apart.
package locales

import (
	"embed"
	"io/fs"
)

//go:embed *.yaml
var files embed.FS

// FS returns the embedded locale files.
func FS() fs.FS { return files }

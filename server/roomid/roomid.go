// Package roomid is the rule for a room's id, a leaf so every part of the server that names
// rooms (the rooms themselves, the write path's activity, the deploy, the audit) checks it the
// same way without importing the room package.
package roomid

import "regexp"

// MaxLength bounds a room id.
const MaxLength = 128

var pattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// Valid reports whether id may name a room: 1-128 characters of [A-Za-z0-9._-], starting with
// a letter or digit. Braces are excluded so a room id cannot break the Redis hash tag around it,
// and slashes so it is one path segment.
func Valid(id string) bool { return pattern.MatchString(id) }

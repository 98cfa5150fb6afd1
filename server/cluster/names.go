package cluster

// ValidName accepts DNS-1123 labels and subdomains (what pod, container and namespace names are):
// lowercase letters, digits, '-' and '.', at most 253 bytes, starting and ending with a letter or
// digit. Streams check names from the wire with it, since anything else would only produce an
// apiserver error later, or a path surprise.
func ValidName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return s[0] != '-' && s[0] != '.' && s[len(s)-1] != '-' && s[len(s)-1] != '.'
}

package specs

import (
	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// checkVersion only requires ociVersion to be there. Like runc, husk runs
// a config whatever version it names ("1.0.2-dev", "1.3.0", even "9.0.0"
// or a string that is no version at all): the field says which spec the
// bundle was written against, and refusing configs that runc runs would
// break the clients husk stands in for.
func checkVersion(v string) error {
	if v == "" {
		return fieldErrorf("ociVersion", "required (e.g. %q)", rspec.Version)
	}
	return nil
}

package validate

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// mounts checks mounts in order.
//
// destination: required. config.md (1.3) says that on Linux it SHOULD be
// absolute and MAY be relative "for compatibility with old tools", interpreted
// relative to "/", so a relative destination is accepted (deprecated); the
// rootfs code resolves it inside the rootfs either way.
//
// A bind mount (option bind or rbind) needs a source, absolute or relative to
// the bundle, that exists now: runc-style runtimes mount before the create
// hooks run, so nothing could create it in between.
func mounts(ms []specs.Mount, bundle string, ns namespaces) error {
	for i, m := range ms {
		f := fmt.Sprintf("mounts[%d]", i)
		if m.Destination == "" {
			return errf(f+".destination", "required")
		}
		if strings.IndexByte(m.Destination, 0) >= 0 {
			return errf(f+".destination", "contains a NUL byte")
		}
		if isBind(m.Options) {
			if m.Source == "" {
				return errf(f+".source", "required for a bind mount")
			}
			src := m.Source
			if !filepath.IsAbs(src) {
				src = filepath.Join(bundle, src)
			}
			if _, err := os.Stat(src); err != nil {
				return &Error{Field: f + ".source", Err: statErr(src, err)}
			}
		}
		if err := mountIDMap(f, m, ns); err != nil {
			return err
		}
	}
	return nil
}

func isBind(opts []string) bool {
	return slices.Contains(opts, "bind") || slices.Contains(opts, "rbind")
}

// mountIDMap applies config.md's rules for idmapped mounts.
func mountIDMap(f string, m specs.Mount, ns namespaces) error {
	hasU, hasG := len(m.UIDMappings) > 0, len(m.GIDMappings) > 0
	if hasU && !hasG {
		return errf(f+".gidMappings", "required when uidMappings is set")
	}
	if hasG && !hasU {
		return errf(f+".uidMappings", "required when gidMappings is set")
	}
	if err := idMappings(f+".uidMappings", m.UIDMappings); err != nil {
		return err
	}
	if err := idMappings(f+".gidMappings", m.GIDMappings); err != nil {
		return err
	}
	for i, o := range m.Options {
		if o != "idmap" && o != "ridmap" {
			continue
		}
		if !hasU {
			if _, userns := ns.index[specs.UserNamespace]; !userns {
				return errf(fmt.Sprintf("%s.options[%d]", f, i), "%q needs uidMappings and gidMappings on the mount, or a user namespace", o)
			}
		}
	}
	return nil
}

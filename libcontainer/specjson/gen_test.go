package specjson

import (
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtrun/rt/hack/jsongen"
)

// TestGenerated fails when spec_gen.go is not what hack/jsongen makes from
// the spec types of go.mod's runtime-spec; RT_JSONGEN=1 rewrites it.
func TestGenerated(t *testing.T) {
	src, err := jsongen.Generate(jsongen.Config{
		Package: "specjson",
		PkgPath: "github.com/rtrun/rt/libcontainer/specjson",
		Roots:   []reflect.Type{reflect.TypeFor[specs.Spec](), reflect.TypeFor[specs.Process]()},
		Export:  true,
		// Platforms rt does not run: left to encoding/json.
		Refuse: []reflect.Type{reflect.TypeFor[specs.Windows](), reflect.TypeFor[specs.Solaris](),
			reflect.TypeFor[specs.VM](), reflect.TypeFor[specs.ZOS](), reflect.TypeFor[specs.FreeBSD]()},
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	jsongen.Check(t, "spec_gen.go", src)
}

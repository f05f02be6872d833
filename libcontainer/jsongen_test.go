package libcontainer

import (
	"encoding/json"
	jsontext "encoding/json/jsontext"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtrun/rt/hack/jsongen"
	specjson "github.com/rtrun/rt/libcontainer/specjson"
)

// TestGenerated fails when json_gen.go is not what hack/jsongen makes from
// the state file's and the sync messages' types; RT_JSONGEN=1 rewrites it.
func TestGenerated(t *testing.T) {
	src, err := jsongen.Generate(jsongen.Config{
		Package: "libcontainer",
		PkgPath: "github.com/rtrun/rt/libcontainer",
		Roots:   []reflect.Type{reflect.TypeFor[State](), reflect.TypeFor[syncMsg]()},
		External: map[reflect.Type]jsongen.Extern{reflect.TypeFor[specs.Spec](): {
			Import: "github.com/rtrun/rt/libcontainer/specjson", Name: "specjson", Read: "ReadSpec", Append: "AppendSpec"}},
		Support: "github.com/rtrun/rt/libcontainer/specjson",
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	jsongen.Check(t, "json_gen.go", src)
}

// The state file's and the sync messages' fast paths agree with
// encoding/json both ways, on values with every field set.
func TestStateJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	skip := map[reflect.Type]bool{reflect.TypeFor[specs.Windows](): true, reflect.TypeFor[specs.Solaris](): true,
		reflect.TypeFor[specs.VM](): true, reflect.TypeFor[specs.ZOS](): true, reflect.TypeFor[specs.FreeBSD](): true}
	for range 100 {
		var st State
		jsongen.Fill(reflect.ValueOf(&st).Elem(), r, skip)
		st.Created = time.Unix(r.Int64N(1<<33), r.Int64N(1e9)).UTC()
		roundTrip(t, &st, readState, appendState)
		var m syncMsg
		jsongen.Fill(reflect.ValueOf(&m).Elem(), r, skip)
		m.fd = 0 // not in JSON
		roundTrip(t, &m, readSyncMsg, appendSyncMsg)
	}
}

func roundTrip[T any](t *testing.T, v *T, read func(*jsontext.Decoder, *T) error, app func([]byte, *T) ([]byte, error)) {
	t.Helper()
	std, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var want, got, back T
	if err := json.Unmarshal(std, &want); err != nil {
		t.Fatal(err)
	}
	if err := specjson.Fast(std, &got, read); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("fast path reads %s as\n%+v (%v), encoding/json as\n%+v", std, got, err, want)
	}
	enc, err := app(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(enc, &back); err != nil || !reflect.DeepEqual(back, want) {
		t.Fatalf("encoding/json reads the fast encoding %s as\n%+v (%v), not\n%+v", enc, back, err, want)
	}
}

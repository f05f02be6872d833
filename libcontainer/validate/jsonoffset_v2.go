//go:build goexperiment.jsonv2

package validate

// With GOEXPERIMENT=jsonv2 (how hack/build-rt.sh builds rt), encoding/json
// is backed by encoding/json/v2, whose SyntaxError.Offset is the offending
// byte itself; position expects the offset just past it, as v1 gives.
const syntaxOffsetAdjust = 1

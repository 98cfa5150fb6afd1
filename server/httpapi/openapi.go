package httpapi

import _ "embed"

// OpenAPISpec is the API description served at /api/openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPISpec []byte

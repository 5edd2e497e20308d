package signing

// monite is Monite's scheme, hooktap's default:
//
//	Monite-Signature: t=<unix seconds>,v1=<64 lowercase hex>
//
// HMAC-SHA256 keyed with the whole secret string ("whsec_..." as bytes) over
// "{t}.{raw body}". The header and format are documented; the string to sign
// is inferred from Stripe's, which the header copies.
var monite = hexScheme{name: "monite", header: "Monite-Signature"}

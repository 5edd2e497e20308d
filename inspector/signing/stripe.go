package signing

// stripe is Stripe's scheme, for comparison and for apps written against it:
//
//	Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]
//
// HMAC-SHA256 keyed with the whole secret string over "{t}.{raw body}";
// any v1 may match; the timestamp is checked for age only.
var stripe = hexScheme{name: "stripe", header: "Stripe-Signature"}

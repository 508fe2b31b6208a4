//! stub
use proc_macro::TokenStream;
/// stub
#[proc_macro_attribute]
pub fn event_log(_a: TokenStream, i: TokenStream) -> TokenStream {
    i
}
/// stub
#[proc_macro_attribute]
pub fn events(_a: TokenStream, i: TokenStream) -> TokenStream {
    i
}

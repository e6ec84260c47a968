/**
 * How the user started mes_pkt, for usage lines and the hints in messages: the compiled bin, or
 * the source through tsx. One name everywhere, so a hint can be pasted as it is.
 */
export const SELF = import.meta.url.endsWith('.js') ? 'tsbpf-mes-pkt' : 'npx tsx programs/mes_pkt.ts';

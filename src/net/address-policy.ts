import ipaddr from 'ipaddr.js'

export type AddressVerdict = { allowed: true; exempt: boolean } | { allowed: false; reason: string }

const GLOBAL_V6 = ipaddr.parseCIDR('2000::/3')

const REASONS: Record<string, string> = {
  private: 'a private address',
  loopback: 'a loopback address',
  linkLocal: 'a link-local address',
  carrierGradeNat: 'a carrier-grade NAT address',
  reserved: 'a reserved, documentation or benchmarking address',
  benchmarking: 'a benchmarking address',
  multicast: 'a multicast address',
  broadcast: 'a broadcast address',
  unspecified: 'an unspecified address',
  uniqueLocal: 'a unique-local address',
  ipv4Mapped: 'an IPv4-mapped address',
  rfc6052: 'a NAT64 address',
  rfc6145: 'an IPv4-translated address',
  '6to4': 'a 6to4 address',
  teredo: 'a Teredo address',
  discard: 'a discard-only address',
  as112: 'an AS112 address',
  as112v6: 'an AS112 address',
  amt: 'an AMT address',
  orchid2: 'an ORCHID address',
  deprecated: 'a deprecated address',
  segmentRouting: 'a segment-routing address',
  droneRemoteIdProtocolEntityTags: 'a reserved address',
}

/**
 * Which IP addresses outbound requests may reach: globally routable unicast only, unless an operator exempts a
 * range with PATCHBAY_ALLOWED_TARGET_CIDRS. IPv4-mapped IPv6 is judged as the IPv4 address it carries; other
 * IPv6 forms that embed IPv4 (NAT64, 6to4, Teredo) are refused outright, since their IPv4 part can point
 * anywhere.
 */
export class AddressPolicy {
  readonly #exempt: [ipaddr.IPv4 | ipaddr.IPv6, number][]

  constructor(allowedCidrs: readonly string[] = []) {
    this.#exempt = allowedCidrs.map((c) => {
      try {
        return ipaddr.parseCIDR(c)
      } catch {
        throw new Error(`PATCHBAY_ALLOWED_TARGET_CIDRS: "${c}" is not a CIDR range (e.g. 10.0.0.0/8)`)
      }
    })
  }

  static fromSetting(value: string): AddressPolicy {
    return new AddressPolicy(
      value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
  }

  get hasExemptions(): boolean {
    return this.#exempt.length > 0
  }

  judge(address: string): AddressVerdict {
    let ip: ipaddr.IPv4 | ipaddr.IPv6
    try {
      ip = ipaddr.parse(address)
    } catch {
      return { allowed: false, reason: `an unparseable address (${address})` }
    }
    if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress())
      ip = (ip as ipaddr.IPv6).toIPv4Address()
    if (this.#isExempt(ip)) return { allowed: true, exempt: true }
    const range = ip.range()
    if (range === 'unicast' && (ip.kind() === 'ipv4' || (ip as ipaddr.IPv6).match(GLOBAL_V6))) {
      return { allowed: true, exempt: false }
    }
    return { allowed: false, reason: `${REASONS[range] ?? 'a non-public address'} (${ip.toString()})` }
  }

  #isExempt(ip: ipaddr.IPv4 | ipaddr.IPv6): boolean {
    return this.#exempt.some(([net, bits]) => net.kind() === ip.kind() && ip.match(net, bits))
  }
}

/** The address inside a URL hostname if it is an IP literal (`[::1]` → `::1`), else undefined. */
export function ipLiteral(hostname: string): string | undefined {
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname
  return ipaddr.isValid(bare) && (bare.includes(':') || ipaddr.IPv4.isValidFourPartDecimal(bare))
    ? bare
    : undefined
}

// The credentials object of a binding, in the documented shape (btp.md section 2): the
// x509 form (certificate chain + PKCS#1 key, no secret) or the client-secret form.

export interface ZoneFacts {
  readonly url: string;
  readonly certurl: string;
  readonly uaadomain: string;
  readonly identityzone: string;
  readonly identityzoneid: string;
  readonly tenantid: string;
  readonly subaccountid: string;
  readonly apiurl: string;
  readonly verificationkey: string;
  /** The Service Manager URL, for bindings of a service-manager instance (SM access credentials). */
  readonly smUrl?: string;
  /** The Destination service URL, the `uri` of destination bindings. */
  readonly destinationUrl?: string;
}

export interface CredentialSubject {
  readonly clientid: string;
  readonly xsappname: string;
  readonly serviceInstanceId: string;
  readonly offering: string;
}

export type CredentialMaterial =
  | { readonly kind: 'x509'; readonly certificate: string; readonly key: string }
  | { readonly kind: 'secret'; readonly clientsecret: string };

/** A non-resolving placeholder, for a zone that names no Destination service. */
export const DESTINATION_URI = 'https://destination-configuration.simulator.invalid';

export function bindingCredentials(
  zone: ZoneFacts,
  subject: CredentialSubject,
  material: CredentialMaterial,
): Record<string, unknown> {
  const common = {
    clientid: subject.clientid,
    url: zone.url,
    uaadomain: zone.uaadomain,
    xsappname: subject.xsappname,
    identityzone: zone.identityzone,
    identityzoneid: zone.identityzoneid,
    zoneid: zone.identityzoneid,
    tenantid: zone.tenantid,
    tenantmode: 'dedicated',
    subaccountid: zone.subaccountid,
    serviceInstanceId: subject.serviceInstanceId,
    apiurl: zone.apiurl,
    verificationkey: zone.verificationkey,
    ...(subject.offering === 'destination' ? { uri: zone.destinationUrl ?? DESTINATION_URI } : {}),
    ...(subject.offering === 'service-manager' && zone.smUrl !== undefined ? { sm_url: zone.smUrl } : {}),
  };
  if (material.kind === 'secret') {
    return { ...common, 'credential-type': 'binding-secret', clientsecret: material.clientsecret };
  }
  return {
    ...common,
    'credential-type': 'x509',
    certurl: zone.certurl,
    certificate: material.certificate,
    key: material.key,
    'certificate-pinning': true,
  };
}

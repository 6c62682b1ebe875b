//! Mapping tables: how each provider names its regions and services in its feeds, and the
//! one canonical form probity compares them in. A target's `provider_region` and
//! `provider_service` may be written in any form a table knows ("East US 2", "eastus2";
//! "US-EAST-1", "N. Virginia", "us-east-1"; "Iowa (us-central1)", "us-central1"), and match
//! a feed that writes another.

/// A lowercase, dash-joined form of a name, for matching names written differently.
pub fn slug(s: &str) -> String {
    let mut out = String::new();
    for w in s
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(&w.to_lowercase());
    }
    out
}

/// Azure regions: (programmatic name, display name).
const AZURE_REGIONS: &[(&str, &str)] = &[
    ("eastus", "East US"),
    ("eastus2", "East US 2"),
    ("eastus3", "East US 3"),
    ("centralus", "Central US"),
    ("northcentralus", "North Central US"),
    ("southcentralus", "South Central US"),
    ("westcentralus", "West Central US"),
    ("westus", "West US"),
    ("westus2", "West US 2"),
    ("westus3", "West US 3"),
    ("canadacentral", "Canada Central"),
    ("canadaeast", "Canada East"),
    ("brazilsouth", "Brazil South"),
    ("brazilsoutheast", "Brazil Southeast"),
    ("mexicocentral", "Mexico Central"),
    ("chilecentral", "Chile Central"),
    ("northeurope", "North Europe"),
    ("westeurope", "West Europe"),
    ("uksouth", "UK South"),
    ("ukwest", "UK West"),
    ("francecentral", "France Central"),
    ("francesouth", "France South"),
    ("germanywestcentral", "Germany West Central"),
    ("germanynorth", "Germany North"),
    ("switzerlandnorth", "Switzerland North"),
    ("switzerlandwest", "Switzerland West"),
    ("norwayeast", "Norway East"),
    ("norwaywest", "Norway West"),
    ("swedencentral", "Sweden Central"),
    ("polandcentral", "Poland Central"),
    ("italynorth", "Italy North"),
    ("spaincentral", "Spain Central"),
    ("austriaeast", "Austria East"),
    ("belgiumcentral", "Belgium Central"),
    ("denmarkeast", "Denmark East"),
    ("uaenorth", "UAE North"),
    ("uaecentral", "UAE Central"),
    ("qatarcentral", "Qatar Central"),
    ("israelcentral", "Israel Central"),
    ("southafricanorth", "South Africa North"),
    ("southafricawest", "South Africa West"),
    ("centralindia", "Central India"),
    ("southindia", "South India"),
    ("westindia", "West India"),
    ("eastasia", "East Asia"),
    ("southeastasia", "Southeast Asia"),
    ("japaneast", "Japan East"),
    ("japanwest", "Japan West"),
    ("koreacentral", "Korea Central"),
    ("koreasouth", "Korea South"),
    ("australiaeast", "Australia East"),
    ("australiasoutheast", "Australia Southeast"),
    ("australiacentral", "Australia Central"),
    ("australiacentral2", "Australia Central 2"),
    ("newzealandnorth", "New Zealand North"),
    ("indonesiacentral", "Indonesia Central"),
    ("malaysiawest", "Malaysia West"),
    ("taiwannorth", "Taiwan North"),
    ("usgovvirginia", "US Gov Virginia"),
    ("usgovarizona", "US Gov Arizona"),
    ("usgovtexas", "US Gov Texas"),
    ("chinanorth", "China North"),
    ("chinaeast", "China East"),
    ("chinanorth2", "China North 2"),
    ("chinaeast2", "China East 2"),
    ("chinanorth3", "China North 3"),
    ("chinaeast3", "China East 3"),
    ("global", "Global"),
];

/// AWS regions: (code, location name as the dashboard writes it).
const AWS_REGIONS: &[(&str, &str)] = &[
    ("us-east-1", "N. Virginia"),
    ("us-east-2", "Ohio"),
    ("us-west-1", "N. California"),
    ("us-west-2", "Oregon"),
    ("af-south-1", "Cape Town"),
    ("ap-east-1", "Hong Kong"),
    ("ap-south-1", "Mumbai"),
    ("ap-south-2", "Hyderabad"),
    ("ap-southeast-1", "Singapore"),
    ("ap-southeast-2", "Sydney"),
    ("ap-southeast-3", "Jakarta"),
    ("ap-southeast-4", "Melbourne"),
    ("ap-southeast-5", "Malaysia"),
    ("ap-southeast-7", "Thailand"),
    ("ap-northeast-1", "Tokyo"),
    ("ap-northeast-2", "Seoul"),
    ("ap-northeast-3", "Osaka"),
    ("ca-central-1", "Canada"),
    ("ca-west-1", "Calgary"),
    ("eu-central-1", "Frankfurt"),
    ("eu-central-2", "Zurich"),
    ("eu-west-1", "Ireland"),
    ("eu-west-2", "London"),
    ("eu-west-3", "Paris"),
    ("eu-south-1", "Milan"),
    ("eu-south-2", "Spain"),
    ("eu-north-1", "Stockholm"),
    ("il-central-1", "Tel Aviv"),
    ("me-south-1", "Bahrain"),
    ("me-central-1", "UAE"),
    ("mx-central-1", "Mexico"),
    ("sa-east-1", "Sao Paulo"),
    ("us-gov-east-1", "GovCloud (US-East)"),
    ("us-gov-west-1", "GovCloud (US-West)"),
];

/// AWS service keys (as in feed names and `service` fields) and their names.
const AWS_SERVICES: &[(&str, &str)] = &[
    ("ec2", "Amazon Elastic Compute Cloud"),
    ("s3", "Amazon Simple Storage Service"),
    ("rds", "Amazon Relational Database Service"),
    ("lambda", "AWS Lambda"),
    ("dynamodb", "Amazon DynamoDB"),
    ("cloudfront", "Amazon CloudFront"),
    ("route53", "Amazon Route 53"),
    ("elb", "Elastic Load Balancing"),
    ("elasticloadbalancing", "Elastic Load Balancing"),
    ("ecs", "Amazon Elastic Container Service"),
    ("eks", "Amazon Elastic Kubernetes Service"),
    ("sqs", "Amazon Simple Queue Service"),
    ("sns", "Amazon Simple Notification Service"),
    ("cloudwatch", "Amazon CloudWatch"),
    ("iam", "AWS Identity and Access Management"),
    ("sts", "AWS Security Token Service"),
    ("kms", "AWS Key Management Service"),
    ("apigateway", "Amazon API Gateway"),
    ("elasticache", "Amazon ElastiCache"),
    ("kinesis", "Amazon Kinesis Data Streams"),
    ("ebs", "Amazon Elastic Block Store"),
    ("efs", "Amazon Elastic File System"),
    ("billingconsole", "AWS Billing Console"),
    ("management-console", "AWS Management Console"),
    ("multipleservices", "Multiple services"),
];

/// Google Cloud regions: (id, city).
const GCP_REGIONS: &[(&str, &str)] = &[
    ("us-central1", "Iowa"),
    ("us-east1", "South Carolina"),
    ("us-east4", "Northern Virginia"),
    ("us-east5", "Columbus"),
    ("us-south1", "Dallas"),
    ("us-west1", "Oregon"),
    ("us-west2", "Los Angeles"),
    ("us-west3", "Salt Lake City"),
    ("us-west4", "Las Vegas"),
    ("northamerica-northeast1", "Montréal"),
    ("northamerica-northeast2", "Toronto"),
    ("southamerica-east1", "São Paulo"),
    ("southamerica-west1", "Santiago"),
    ("europe-west1", "Belgium"),
    ("europe-west2", "London"),
    ("europe-west3", "Frankfurt"),
    ("europe-west4", "Netherlands"),
    ("europe-west6", "Zurich"),
    ("europe-west8", "Milan"),
    ("europe-west9", "Paris"),
    ("europe-west10", "Berlin"),
    ("europe-west12", "Turin"),
    ("europe-north1", "Finland"),
    ("europe-central2", "Warsaw"),
    ("europe-southwest1", "Madrid"),
    ("asia-east1", "Taiwan"),
    ("asia-east2", "Hong Kong"),
    ("asia-northeast1", "Tokyo"),
    ("asia-northeast2", "Osaka"),
    ("asia-northeast3", "Seoul"),
    ("asia-south1", "Mumbai"),
    ("asia-south2", "Delhi"),
    ("asia-southeast1", "Singapore"),
    ("asia-southeast2", "Jakarta"),
    ("australia-southeast1", "Sydney"),
    ("australia-southeast2", "Melbourne"),
    ("me-west1", "Tel Aviv"),
    ("me-central1", "Doha"),
    ("me-central2", "Dammam"),
    ("africa-south1", "Johannesburg"),
    ("global", "Global"),
    ("multi-region", "Multi-region"),
];

/// Services known under more than one name: (canonical, other names).
const SERVICE_ALIASES: &[(&str, &[&str])] = &[
    // Azure renamed these; feeds use both.
    (
        "Azure AI Search",
        &["Azure Cognitive Search", "Cognitive Search"],
    ),
    (
        "Microsoft Entra ID",
        &["Azure Active Directory", "Azure AD"],
    ),
    ("Azure AD B2C", &["Azure Active Directory B2C"]),
    ("Azure VMware Solution", &["Azure VMware Solutions"]),
    ("Virtual Machines", &["Azure Virtual Machines", "VMs"]),
    ("Storage", &["Azure Storage", "Storage Accounts"]),
    // AWS short names.
    ("Amazon Elastic Compute Cloud", &["Amazon EC2", "EC2"]),
    ("Amazon Simple Storage Service", &["Amazon S3", "S3"]),
    ("Amazon Relational Database Service", &["Amazon RDS", "RDS"]),
    ("Amazon DynamoDB", &["DynamoDB"]),
    ("AWS Lambda", &["Lambda"]),
    // Google Cloud: product titles with and without the brand.
    ("Google Compute Engine", &["Compute Engine", "GCE"]),
    ("Google Cloud Storage", &["Cloud Storage", "GCS"]),
    ("Google Kubernetes Engine", &["Kubernetes Engine", "GKE"]),
    ("Cloud SQL", &["Google Cloud SQL"]),
    ("Cloud Run", &["Google Cloud Run"]),
    ("BigQuery", &["Google BigQuery"]),
];

fn squash(s: &str) -> String {
    slug(s).replace('-', "")
}

/// The canonical form of a region name as `provider` writes it anywhere: the programmatic
/// id where the provider has one (`eastus2`, `us-east-1`, `us-central1`), else the slug.
pub fn canonical_region(provider: &str, name: &str) -> String {
    let name = name.trim();
    let s = squash(name);
    let table: &[(&str, &str)] = match provider {
        "azure" => AZURE_REGIONS,
        "aws" => AWS_REGIONS,
        "gcp" => GCP_REGIONS,
        _ => &[],
    };
    for (id, display) in table {
        if s == squash(id) || s == squash(display) {
            return (*id).to_string();
        }
    }
    // "Iowa (us-central1)", "US East (N. Virginia)", "Asia Pacific (Tokyo)".
    if let (Some(open), Some(close)) = (name.find('('), name.rfind(')'))
        && open < close
    {
        let inner = squash(&name[open + 1..close]);
        for (id, display) in table {
            if inner == squash(id) || inner == squash(display) {
                return (*id).to_string();
            }
        }
    }
    slug(name)
}

/// Whether `name` is a region in `provider`'s table (Azure feeds mix regions and services
/// in one list; this tells them apart).
pub fn is_region(provider: &str, name: &str) -> bool {
    let table: &[(&str, &str)] = match provider {
        "azure" => AZURE_REGIONS,
        "aws" => AWS_REGIONS,
        "gcp" => GCP_REGIONS,
        _ => return false,
    };
    let s = squash(name);
    table
        .iter()
        .any(|(id, display)| s == squash(id) || s == squash(display))
}

/// The canonical form of a service name: one name per service across the names a provider
/// has used, compared without case or punctuation.
pub fn canonical_service(name: &str) -> String {
    let s = squash(name);
    for (canonical, others) in SERVICE_ALIASES {
        if s == squash(canonical) || others.iter().any(|o| s == squash(o)) {
            return slug(canonical);
        }
    }
    for (key, full) in AWS_SERVICES {
        if s == squash(key) || s == squash(full) {
            return slug(full);
        }
    }
    slug(name)
}

/// The name of an AWS service key (`s3` → Amazon Simple Storage Service), or the key.
pub fn aws_service_name(key: &str) -> String {
    AWS_SERVICES
        .iter()
        .find(|(k, _)| *k == key)
        .map_or_else(|| key.to_string(), |(_, n)| (*n).to_string())
}

/// Whether a region as written by a provider and a region as a target names it are one.
pub fn same_region(provider: &str, a: &str, b: &str) -> bool {
    canonical_region(provider, a) == canonical_region(provider, b)
}

/// Whether two service names are one service.
pub fn same_service(a: &str, b: &str) -> bool {
    canonical_service(a) == canonical_service(b)
}

/// What a target says about itself for matching: the provider, and the service and region
/// in the provider's own words (`provider_service`, `provider_region`) or, when those are
/// not given, its `service` and `region`.
#[derive(Clone, Copy, Debug)]
pub struct TargetNames<'a> {
    pub provider: Option<&'a str>,
    pub service: Option<&'a str>,
    pub region: Option<&'a str>,
}

/// A component name read as a service and a region, the way status pages commonly write
/// them: `Storage (westeurope)`, `Storage - West Europe`, `Storage – eu-west-1`. `None` when
/// the name has no such part.
pub fn component_parts(name: &str) -> Option<(&str, &str)> {
    let name = name.trim();
    if let Some(open) = name.rfind(" (")
        && name.ends_with(')')
    {
        let (service, region) = (&name[..open], &name[open + 2..name.len() - 1]);
        if !service.trim().is_empty() && !region.trim().is_empty() {
            return Some((service.trim(), region.trim()));
        }
    }
    for sep in [" - ", " – ", " — ", " / "] {
        if let Some((service, region)) = name.rsplit_once(sep)
            && !service.trim().is_empty()
            && !region.trim().is_empty()
        {
            return Some((service.trim(), region.trim()));
        }
    }
    None
}

/// Whether a declared service name (perhaps a component with its region in it) names the
/// target's service (and, when it carries a region, the target's region).
fn names_service(provider: &str, declared: &str, service: &str, region: Option<&str>) -> bool {
    if same_service(declared, service) {
        return true;
    }
    match component_parts(declared) {
        Some((s, r)) => {
            same_service(s, service) && region.is_none_or(|t| same_region(provider, r, t))
        }
        None => false,
    }
}

/// Whether a provider incident declares impact on what a target watches: the same provider;
/// one of its services is the target's (or it names none); one of its regions is the
/// target's (or it names none: global). A target that names no service or region matches
/// on the provider alone.
pub fn affects(i: &crate::provider::ProviderIncident, t: TargetNames<'_>) -> bool {
    let Some(provider) = t.provider else {
        return false;
    };
    if slug(provider) != slug(&i.provider) {
        return false;
    }
    // A service named with its region in it (`Storage (westeurope)`) states the region too:
    // then that region must be the target's.
    let service_ok = match t.service {
        None => true,
        Some(s) => {
            i.services.is_empty()
                || i.services
                    .iter()
                    .any(|x| names_service(provider, x, s, t.region))
        }
    };
    let region_ok = match t.region {
        None => true,
        Some(r) => i.regions.is_empty() || i.regions.iter().any(|x| same_region(provider, x, r)),
    };
    service_ok && region_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incidents_affect_targets_by_provider_service_and_region() {
        let i = crate::provider::ProviderIncident {
            provider: "azure".into(),
            source: "azure".into(),
            external_id: "x".into(),
            title: "t".into(),
            services: vec!["Azure Cognitive Search".into(), "Virtual Machines".into()],
            regions: vec!["East US 2".into()],
            impact: crate::provider::Impact::Major,
            status: "investigating".into(),
            started_at_ms: None,
            published_at_ms: None,
            updated_at_ms: None,
            resolved_at_ms: None,
            updates: vec![],
            url: None,
        };
        let t = |p: Option<&'static str>, s: Option<&'static str>, r: Option<&'static str>| {
            TargetNames {
                provider: p,
                service: s,
                region: r,
            }
        };
        assert!(affects(
            &i,
            t(Some("azure"), Some("Azure AI Search"), Some("eastus2"))
        ));
        assert!(affects(&i, t(Some("Azure"), None, Some("East US 2"))));
        assert!(!affects(
            &i,
            t(Some("azure"), Some("Azure AI Search"), Some("westus"))
        ));
        assert!(!affects(
            &i,
            t(Some("azure"), Some("Cosmos DB"), Some("eastus2"))
        ));
        assert!(!affects(&i, t(Some("aws"), None, None)));
        assert!(!affects(&i, t(None, None, None)));
        let global = crate::provider::ProviderIncident {
            regions: vec![],
            services: vec![],
            ..i
        };
        assert!(affects(
            &global,
            t(Some("azure"), Some("Storage"), Some("westus"))
        ));
    }

    #[test]
    fn components_name_a_service_and_a_region() {
        assert_eq!(
            component_parts("Storage (westeurope)"),
            Some(("Storage", "westeurope"))
        );
        assert_eq!(
            component_parts("Virtual Machines - West Europe"),
            Some(("Virtual Machines", "West Europe"))
        );
        assert_eq!(component_parts("Storage"), None);
        assert_eq!(component_parts("(x)"), None);
        let i = crate::provider::ProviderIncident {
            provider: "azure".into(),
            source: "statuspage".into(),
            external_id: "x".into(),
            title: "t".into(),
            services: vec!["Storage (westeurope)".into()],
            regions: vec![],
            impact: crate::provider::Impact::Major,
            status: "investigating".into(),
            started_at_ms: None,
            published_at_ms: None,
            updated_at_ms: None,
            resolved_at_ms: None,
            updates: vec![],
            url: None,
        };
        let t = |s: &'static str, r: Option<&'static str>| TargetNames {
            provider: Some("azure"),
            service: Some(s),
            region: r,
        };
        assert!(affects(&i, t("storage", Some("westeurope"))));
        assert!(
            affects(&i, t("Storage", Some("West Europe"))),
            "any form of the region"
        );
        assert!(!affects(&i, t("storage", Some("eastus"))), "another region");
        assert!(affects(&i, t("storage", None)), "a target without a region");
        assert!(!affects(&i, t("compute", Some("westeurope"))));
        // The exact component name still works.
        assert!(affects(&i, t("Storage (westeurope)", None)));
    }

    #[test]
    fn regions_in_every_form_meet() {
        assert!(same_region("azure", "East US 2", "eastus2"));
        assert!(!same_region("azure", "East US 2", "East US"));
        assert!(same_region("aws", "US-EAST-1", "us-east-1"));
        assert!(same_region("aws", "N. Virginia", "us-east-1"));
        assert!(same_region("aws", "US East (N. Virginia)", "us-east-1"));
        assert!(same_region("gcp", "Iowa (us-central1)", "us-central1"));
        assert!(!same_region("gcp", "us-east1", "us-east4"));
        assert_eq!(canonical_region("other", "Some Place"), "some-place");
        assert!(is_region("azure", "West US"));
        assert!(!is_region("azure", "App Service"));
    }

    #[test]
    fn services_by_any_of_their_names() {
        assert!(same_service("Azure Cognitive Search", "Azure AI Search"));
        assert!(same_service("s3", "Amazon Simple Storage Service"));
        assert!(same_service("Amazon S3", "s3"));
        assert!(same_service("Compute Engine", "Google Compute Engine"));
        assert!(!same_service("Cloud SQL", "Cloud Run"));
        assert_eq!(aws_service_name("ec2"), "Amazon Elastic Compute Cloud");
        assert_eq!(aws_service_name("newthing"), "newthing");
    }
}

"""What export column names and question texts mean, for `cx schema infer`
(:mod:`helpers.ingest.infer`): the personal-data, platform, id and measure fields by their names
in the usual languages (en, de, fr, es, it, nl, pt), Qualtrics ImportIds and question texts; the
recommend question; journey-stage and comment wordings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: A recommend question in the usual languages (en, de, fr, es, it, nl, pt): its question text,
#: or the words of its answer labels ("10 - Extremely likely to recommend").
LTR_TEXT = (r"(?i)(?:how likely .*recommend|recommend|likelihood to recommend|\bnps\b|\bltr\b|"
             r"empfehl|empfiehl|recommand|recomend|recomie|raccomand|consigli|aanbevel|aanraden|aanbeveling)")
LTR_NAME = re.compile(r"(?i)^(q?\d*[_ .-]?)?(ltr|nps|nps[_ .-]?score|rec|recommend\w*|"
                       r"likel\w*[_ .-]?to[_ .-]?recommend|likely\w*|likelihood\w*|"
                       r"recommandation|recommander|empfehlung\w*|weiterempfehlung\w*|"
                       r"empfehlen|recomendaci\w*|recomendar|recomenda[cç][aã]o|raccomandazione|"
                       r"raccomandare|consigliare|aanbeveling|aanbevelen)$")

STAGES = {"sales": r"(?i)sales|salesperson|salesman|vertrieb|vente|commercial|buying|proposal",
           "implementation": r"(?i)implement|onboard|deploy|go-?live|roll-?out|project|"
                             r"installation|setup"}
NAMES = {**STAGES, "touchpoint": r"(?i)purchase|deliver|support|\bapp\b|website|store|checkout|"
                                   r"product quality|value for money|experience with"}
STEM_STOP = {"how", "would", "you", "rate", "please", "following", "our", "your", "with", "on",
              "the", "of", "to", "and", "a", "an", "did", "do", "we", "us", "for", "about"}


@dataclass(frozen=True)
class Rule:
    """How to recognise one field: normalised names, ImportIds, question pattern, extra keys."""

    name: str
    ids: tuple[str, ...] = ()
    import_ids: tuple[str, ...] = ()
    pattern: str | None = None
    extra: tuple[tuple[str, Any], ...] = ()


def _rule(name: str, ids: str = "", imports: str = "", pattern: str | None = None, **extra: Any) -> Rule:
    return Rule(name, tuple(ids.split()), tuple(imports.split()), pattern, tuple(extra.items()))


PERSONAL = [  # before anything else: an e-mail column must never become a segment field
    _rule("contact_key", "recipientemail email emailaddress mail", "recipientEmail", r"(?i)\be-?mail\b",
       action="hash"),
    _rule("ip_key", "ipaddress ip", "ipAddress", r"(?i)^ip address$", action="hash"),
    _rule("first_name", "recipientfirstname firstname givenname", "recipientFirstName",
       r"(?i)^first name", action="drop"),
    _rule("last_name", "recipientlastname lastname surname familyname", "recipientLastName",
       r"(?i)^(last name|surname)", action="drop"),
    _rule("name", "name fullname respondentname contactname customername personname participantname",
       "", r"(?i)^(your |full |contact |respondent |customer |person |participant )*name\??$",
       action="drop"),
    _rule("phone", "phone phonenumber mobile telephone", "", r"(?i)\b(phone|mobile)\b", action="drop"),
    _rule("contact_details", "contactdetails yourcontactdetails contactinfo contactinformation "
          "kontaktdaten coordonnees datosdecontacto", "", r"(?i)contact (details|info)|kontaktdaten|"
          r"coordonnées|datos de contacto|dati di contatto|contactgegevens", action="drop"),
    _rule("latitude", "locationlatitude latitude lat", "locationLatitude", action="drop"),
    _rule("longitude", "locationlongitude longitude lon lng", "locationLongitude", action="drop"),
    _rule("external_reference", "externalreference externaldatareference", "externalDataReference",
       action="drop"),
]
#: Account / customer columns in en, de, fr, es, it, nl, pt, and customer numbers (normalised
#: names: lower case, no accents, letters and digits only).
ACCOUNT_IDS = ("accountid account customeraccount company companyid companyname accountname "
                "accountnumber accountno client clientid clientname clientnumber clientno customer "
                "customerid customername customernumber customerno customernr kunde kunden kundenid "
                "kundennummer kundennr kundenname firma firmenname unternehmen compte numeroclient "
                "numclient numerodecompte nclient societe entreprise cliente idcliente "
                "numerodecliente numerocliente nombrecliente cuenta empresa codigocliente "
                "codicecliente azienda ragionesociale klant klantnummer klantnr klantid klantnaam "
                "bedrijf bedrijfsnaam conta numerodocliente codigodocliente")
ACCOUNT_TEXT = (r"(?i)^(account|customer|client|kunden?|firma|unternehmen|compte|soci[eé]t[eé]|"
                 r"entreprise|cliente|cuenta|empresa|azienda|klant|bedrijf|conta)"
                 r"( ?(id|name|number|no\.?|nr\.?|nummer|num[eé]ro|n[°º]|code|c[oó]digo|codice|naam|nom))?$")
PLATFORM = [
    _rule("response_id", "responseid respondentid recordid", "_recordId", r"(?i)^(response|respondent) ?id$"),
    _rule("submitted_at", "recordeddate enddate datesubmitted submittedat completedat submitdate "
       "responsedate surveydate date", "recordedDate endDate",
       r"(?i)^(recorded date|end date|date submitted|response date)$", type="datetime",
       preferred=True),
    _rule("started_at", "startdate startedat", "startDate", r"(?i)^start date$", type="datetime"),
    _rule("duration_s", "durationinseconds duration durations", "duration", r"(?i)^duration",
       type="number"),
    _rule("status", "status responsetype", "status"),
    _rule("distribution_channel", "distributionchannel", "distributionChannel"),
    _rule("finished", "finished complete completed beendet abgeschlossen termine finalizado "
       "completato terminato voltooid afgerond concluido", "finished", type="boolean"),
    _rule("market", "market businessmarket", "", r"(?i)^market\b"),
    _rule("wave", "wave surveywave", "", r"(?i)^wave\b"),
    _rule("account_id", ACCOUNT_IDS, "", ACCOUNT_TEXT),
    _rule("role", "contactrole role jobrole", "", r"(?i)^(contact )?role\b"),
    _rule("rep_id", "repid rep salesrep accountmanager accountteam accountowner csm", "",
       r"(?i)^(sales rep|account (manager|team|owner))"),
    _rule("deal_close_date", "dealclosedate closedate", "", type="datetime"),
    _rule("go_live_planned", "goliveplanned plannedgolive plannedgolivedate", "", type="datetime"),
    _rule("go_live_date", "golivedate golive actualgolive", "", type="datetime"),
    _rule("last_rep_touch_at", "lastreptouch lastreptouchat lastcontact", "", type="datetime"),
]
MEASURES = [
    _rule("ces", "ces effort customereffort effortscore aufwand kundenaufwand esfuerzo sforzo moeite "
          "esforco", "",
       r"(?i)(easy|effort).*(handle|resolve|issue|request)|\beffort\b|\bCES\b|"
       r"(leicht|einfach).*(anliegen|lösen|erledigen)|aufwand|(facil|fácil|makkelijk|eenvoudig).*"
       r"(résoudre|demande|problème|resolver|solicitud|consulta|problema|risolvere|richiesta|"
       r"oplossen|verzoek)|esfuerzo|sforzo|moeite|esforço", type="score"),
    _rule("csat", "csat satisfaction satisfied overallsatisfaction csatscore zufriedenheit "
          "gesamtzufriedenheit kundenzufriedenheit satisfaccion soddisfazione tevredenheid satisfacao",
          "", r"(?i)(how satisfied|overall satisfaction|satisfaction|wie zufrieden|zufriedenheit|"
              r"satisfait|satisfecho|satisfacción|soddisfatt|soddisfazione|tevreden|satisfeito|"
              r"satisfação)", type="score"),
]
COMMENT = re.compile(r"(?i)comment|feedback|verbatim|reason|why|explication|explanation|remark|"
                      r"text|open|kommentar|commentaire|anything else|tell us|improve|"
                      r"verbessern|anmerkung|warum|begründung|améliorer|pourquoi|remarque|"
                      r"mejorar|por qué|comentario|migliorare|perché|commento|suggeriment|"
                      r"verbeteren|waarom|opmerking|toelichting|melhorar|comentário|sugest")

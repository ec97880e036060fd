"""Central London's streets between Trafalgar Square, Covent Garden, Westminster and Buckingham Palace.

About 1.6 km by 1.5 km of the real street network, drawn by hand: the junctions are where the streets meet
(good to a few tens of metres, enough for a simulation; not a survey), and each street runs through its
junctions in order. Pedestrianised streets (Trafalgar Square's north side, Villiers Street, the piazza at
Covent Garden, the Duke of York Steps, Horse Guards Parade) are closed to cars. Traffic directions are left out:
every street is two-way.
"""

from vigil.sim.city import StreetLine, StreetMap


def central_london() -> StreetMap:
    """The street map (see the module's description)."""
    points = {
        # Trafalgar Square and Charing Cross
        "trafalgar_nw": (51.50852, -0.12915),
        "trafalgar_ne": (51.50862, -0.12712),
        "trafalgar_se": (51.50772, -0.12690),
        "trafalgar_sw": (51.50752, -0.12905),
        "charing_cross": (51.50738, -0.12770),
        "admiralty_arch": (51.50660, -0.12850),
        # The Strand and the streets off it
        "charing_cross_station": (51.50850, -0.12490),
        "villiers_top": (51.50870, -0.12420),
        "southampton_street_foot": (51.50990, -0.12150),
        "savoy_street": (51.51040, -0.12030),
        "lancaster_place": (51.51100, -0.11840),
        # Covent Garden and the West End
        "st_martins_place": (51.50925, -0.12760),
        "leicester_square_station": (51.51135, -0.12830),
        "cambridge_circus": (51.51340, -0.12900),
        "st_martins_lane_long_acre": (51.51170, -0.12700),
        "covent_garden_station": (51.51290, -0.12420),
        "bow_street": (51.51360, -0.12230),
        "wellington_street": (51.51240, -0.12020),
        "covent_garden_piazza": (51.51140, -0.12250),
        "leicester_square_west": (51.51030, -0.13020),
        "leicester_square_north": (51.51095, -0.12955),
        # Haymarket, Pall Mall and St James's
        "haymarket_pall_mall_east": (51.50835, -0.13185),
        "pall_mall_haymarket": (51.50785, -0.13200),
        "haymarket_top": (51.50980, -0.13280),
        "waterloo_place": (51.50755, -0.13300),
        "marlborough_road_top": (51.50620, -0.13650),
        # The Mall, the park and Buckingham Palace
        "mall_horse_guards": (51.50566, -0.13090),
        "mall_duke_of_york": (51.50523, -0.13200),
        "mall_marlborough_road": (51.50358, -0.13620),
        "queen_victoria_memorial": (51.50190, -0.14050),
        "horse_guards_parade": (51.50450, -0.13040),
        "storeys_gate": (51.50145, -0.12985),
        "wellington_barracks": (51.50060, -0.13500),
        "buckingham_gate": (51.50030, -0.13860),
        # Whitehall and Westminster
        "whitehall_place": (51.50600, -0.12705),
        "horse_guards": (51.50475, -0.12672),
        "downing_street": (51.50330, -0.12640),
        "cenotaph": (51.50270, -0.12620),
        "parliament_square_ne": (51.50110, -0.12600),
        "parliament_square_nw": (51.50115, -0.12740),
        "parliament_square_sw": (51.50010, -0.12735),
        "parliament_square_se": (51.50005, -0.12595),
        "westminster_bridge_west": (51.50105, -0.12400),
        "westminster_bridge_east": (51.50085, -0.12000),
        # Northumberland Avenue and the Victoria Embankment
        "whitehall_place_east": (51.50655, -0.12500),
        "northumberland_foot": (51.50590, -0.12300),
        "embankment_horse_guards": (51.50440, -0.12327),
        "embankment_station": (51.50690, -0.12235),
        "savoy_place": (51.50880, -0.11990),
        "waterloo_bridge_north": (51.50960, -0.11740),
    }
    streets = (
        StreetLine("Trafalgar Square (north terrace)", ("trafalgar_nw", "trafalgar_ne"), foot_only=True),
        StreetLine("Trafalgar Square (east side)", ("trafalgar_ne", "trafalgar_se")),
        StreetLine("Trafalgar Square (south side)", ("trafalgar_se", "charing_cross", "trafalgar_sw")),
        StreetLine("Trafalgar Square (west side)", ("trafalgar_sw", "trafalgar_nw")),
        StreetLine(
            "Strand",
            (
                "trafalgar_se",
                "charing_cross_station",
                "villiers_top",
                "southampton_street_foot",
                "savoy_street",
                "lancaster_place",
            ),
        ),
        StreetLine("Duncannon Street", ("trafalgar_ne", "charing_cross_station")),
        StreetLine("Villiers Street", ("villiers_top", "embankment_station"), foot_only=True),
        StreetLine("Savoy Street", ("savoy_street", "savoy_place")),
        StreetLine("Lancaster Place", ("lancaster_place", "waterloo_bridge_north")),
        StreetLine("St Martin's Place", ("trafalgar_ne", "st_martins_place")),
        StreetLine("Charing Cross Road", ("st_martins_place", "leicester_square_station", "cambridge_circus")),
        StreetLine("St Martin's Lane", ("st_martins_place", "st_martins_lane_long_acre")),
        StreetLine("Cranbourn Street", ("leicester_square_station", "st_martins_lane_long_acre")),
        StreetLine("Long Acre", ("st_martins_lane_long_acre", "covent_garden_station", "bow_street")),
        StreetLine("Bow Street and Wellington Street", ("bow_street", "wellington_street", "lancaster_place")),
        StreetLine("Southampton Street", ("southampton_street_foot", "covent_garden_piazza")),
        StreetLine("James Street", ("covent_garden_piazza", "covent_garden_station"), foot_only=True),
        StreetLine("Russell Street", ("covent_garden_piazza", "wellington_street"), foot_only=True),
        StreetLine("Pall Mall East", ("trafalgar_nw", "haymarket_pall_mall_east")),
        StreetLine("Cockspur Street", ("trafalgar_sw", "pall_mall_haymarket")),
        StreetLine("Haymarket", ("pall_mall_haymarket", "haymarket_pall_mall_east", "haymarket_top")),
        StreetLine("Coventry Street", ("haymarket_top", "leicester_square_west")),
        StreetLine(
            "Leicester Square (north side)",
            ("leicester_square_west", "leicester_square_north", "leicester_square_station"),
            foot_only=True,
        ),
        StreetLine("Pall Mall", ("pall_mall_haymarket", "waterloo_place", "marlborough_road_top")),
        StreetLine("Duke of York Steps", ("waterloo_place", "mall_duke_of_york"), foot_only=True),
        StreetLine("Marlborough Road", ("marlborough_road_top", "mall_marlborough_road")),
        StreetLine(
            "The Mall",
            (
                "charing_cross",
                "admiralty_arch",
                "mall_horse_guards",
                "mall_duke_of_york",
                "mall_marlborough_road",
                "queen_victoria_memorial",
            ),
        ),
        StreetLine("Horse Guards Road", ("mall_horse_guards", "horse_guards_parade", "storeys_gate")),
        StreetLine("Horse Guards Parade", ("horse_guards_parade", "horse_guards"), foot_only=True),
        StreetLine("Great George Street", ("parliament_square_nw", "storeys_gate")),
        StreetLine(
            "Birdcage Walk", ("storeys_gate", "wellington_barracks", "buckingham_gate", "queen_victoria_memorial")
        ),
        StreetLine(
            "Whitehall",
            ("charing_cross", "whitehall_place", "horse_guards", "downing_street", "cenotaph", "parliament_square_ne"),
        ),
        StreetLine("Whitehall Place", ("whitehall_place", "whitehall_place_east")),
        StreetLine("Northumberland Avenue", ("charing_cross", "whitehall_place_east", "northumberland_foot")),
        StreetLine("Horse Guards Avenue", ("horse_guards", "embankment_horse_guards")),
        StreetLine(
            "Parliament Square",
            (
                "parliament_square_ne",
                "parliament_square_nw",
                "parliament_square_sw",
                "parliament_square_se",
                "parliament_square_ne",
            ),
        ),
        StreetLine("Bridge Street", ("parliament_square_ne", "westminster_bridge_west")),
        StreetLine("Westminster Bridge", ("westminster_bridge_west", "westminster_bridge_east")),
        StreetLine(
            "Victoria Embankment",
            (
                "westminster_bridge_west",
                "embankment_horse_guards",
                "northumberland_foot",
                "embankment_station",
                "savoy_place",
                "waterloo_bridge_north",
            ),
        ),
    )
    return StreetMap(name="Central London (Westminster)", points=points, streets=streets)
